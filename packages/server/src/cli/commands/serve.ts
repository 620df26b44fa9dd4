import type { Command } from 'commander'
import { main } from '../../server/main.js'

/**
 * `tessera serve`: starts the HTTP auth server, configured by the environment
 * (see the README's Server section).
 *
 * @example
 * ```sh
 * PORT=8080 REDIS_URL=redis://127.0.0.1:6379 tessera serve
 * ```
 */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('start the HTTP auth server (configured by environment variables; see README "Server")')
    .action(async () => {
      await main(process.env)
    })
}
