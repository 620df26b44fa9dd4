export { registerForwardAuth, ForwardAuthCounts, DEFAULT_FORWARD_AUTH_PATH, type ForwardAuthOptions } from './forward-auth.js'
export {
  resolveIdentityHeaders,
  identityHeaders,
  headerValue,
  DEFAULT_IDENTITY_HEADERS,
  type IdentityHeaderOptions,
  type ResolvedIdentityHeaders,
} from './identity-headers.js'
export { originalRequest, type ForwardedRequest } from './forwarded-request.js'
export { buildGatewayApp, type GatewayAppOptions } from './gateway-app.js'
export { loadGatewayConfig, identityHeadersFromEnv, GatewayConfigError, GATEWAY_SETTINGS, type GatewayConfig } from './gateway-config.js'
export { startGateway, gatewayMain, createGatewayVerifier, type RunningGateway } from './gateway-main.js'
export { gatewayCommand } from './command.js'
