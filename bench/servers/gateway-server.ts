// The forward-auth gateway under test, as `tessera-gateway` runs it: the
// configuration comes from the environment (as for the binary), then READY
// {url}. Stopped by SIGTERM.
import { loadGatewayConfig, startGateway } from '@tessera/gateway'
import { announceReady } from '../lib/processes.js'

const gateway = await startGateway(loadGatewayConfig(process.env))
announceReady({ url: gateway.url }, () => gateway.stop())
