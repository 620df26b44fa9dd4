// The gateway behind real NGINX (Debian's package), in front of a service that
// is not Node. The NGINX config is the one docs/gateway.md gives, read from the doc itself.
import { describeEdgeSuite } from '../../../../test/support/edge-suite.js'
import { startGatewayEdge } from '../../../../test/support/nginx.js'

describeEdgeSuite('forward-auth gateway behind real NGINX', {
  start: startGatewayEdge,
  authPath: '/_tessera_auth',
  // error_page 500 turns every failure of the auth step into a 503.
  gatewayDownStatus: 503,
})
