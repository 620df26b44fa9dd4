// The gateway behind real Caddy (Debian's package, 2.6.2), in front of a service
// that is not Node. The Caddyfile is the one docs/gateway.md gives, read from the doc itself.
import { describeEdgeSuite } from '../../../../test/support/edge-suite.js'
import { startCaddyEdge } from '../../../../test/support/caddy.js'

describeEdgeSuite('forward-auth gateway behind real Caddy', {
  start: startCaddyEdge,
  authPath: '/forward-auth',
  // forward_auth answers 502 when it cannot reach the gateway.
  gatewayDownStatus: 502,
})
