import { Command } from 'commander'
import { GATEWAY_SETTINGS } from './gateway-config.js'

/** The option key commander derives from a flag: `--redis-url <url>` -> `redisUrl`. */
function optionKey(flag: string): string {
  return flag
    .replace(/^--/, '')
    .replace(/ .*$/, '')
    .replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase())
}

/**
 * The gateway's command line: `tessera gateway` in the server's CLI, and the
 * `tessera-gateway` binary of this package (no server, no native module).
 * Every flag has an environment variable; a flag wins.
 *
 * @example
 * ```sh
 * tessera gateway --redis-url redis://127.0.0.1:6379 --issuer https://auth.example \
 *   --jwks-url https://auth.example/.well-known/jwks.json --claim-headers scope=X-Tessera-Scope
 * ```
 */
export function gatewayCommand(name = 'gateway'): Command {
  const command = new Command(name)
    .description('run the forward-auth gateway (NGINX auth_request, Traefik forwardAuth, Envoy ext_authz); see docs/gateway.md')
  for (const setting of GATEWAY_SETTINGS) command.option(setting.flag, `${setting.help} [${setting.env}]`)
  command.action(async (options: Record<string, string | undefined>) => {
    const env: Record<string, string | undefined> = { ...process.env }
    for (const setting of GATEWAY_SETTINGS) {
      const given = options[optionKey(setting.flag)]
      if (given !== undefined) env[setting.env] = given
    }
    // Loaded here: the gateway pulls in Fastify, which the other commands do not need.
    const { gatewayMain } = await import('./gateway-main.js')
    await gatewayMain(env)
  })
  return command
}
