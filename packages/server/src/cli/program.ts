// The `tessera` program (main.ts loads it): a thin registry of commands. Each
// command lives in commands/<name>.ts and owns its options, output and exit code.
import { readFileSync } from 'node:fs'
import { Command } from 'commander'
import { eventsCommand } from './commands/events.js'
import { keysCommand } from './commands/keys.js'
import { sessionsCommand } from './commands/sessions.js'
import { statsCommand } from './commands/stats.js'
import { usersCommand } from './commands/users.js'

const program = new Command('tessera')
  .description('Tessera: revocable JWT authentication. Reads the same environment as the server (REDIS_URL, TESSERA_DATA_DIR, ...).')
  // The same path from src/cli and dist/cli: the package's own package.json.
  .version((JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version, '-V, --version', 'print the version')
  .addHelpText('after', '\nExit codes: 0 ok, 1 failure (e.g. Redis unreachable), 2 bad usage or configuration, 3 not found.')

// `serve` pulls in Fastify, the user database and the mailer, doubling start-up
// time; load it only when it can be run or listed.
const first = process.argv[2]
if (first === undefined || first === 'serve' || first === 'help' || first.startsWith('-')) {
  const { registerServeCommand } = await import('./commands/serve.js')
  registerServeCommand(program)
}
if (first === undefined || first === 'gateway' || first === 'help' || first.startsWith('-')) {
  const { gatewayCommand } = await import('@tessera/gateway')
  program.addCommand(gatewayCommand())
}
for (const command of [keysCommand(), sessionsCommand(), usersCommand(), eventsCommand(), statsCommand()]) program.addCommand(command)

// --json asks for machine-readable output, usage errors included: then a usage
// error is one `{"error":{"code":"ERR_USAGE","message"}}` line on stderr (as every
// other error), still exit 2. Read from argv: commander reports the error before it has parsed options.
const wantsJson = process.argv.slice(2).includes('--json')

function outputError(text: string, write: (text: string) => void): void {
  write(wantsJson ? `${JSON.stringify({ error: { code: 'ERR_USAGE', message: text.replace(/^error: /, '').trim() } })}\n` : text)
}

// addCommand() does not pass settings down, so apply them to every command of the tree.
function configure(command: Command): void {
  command.showHelpAfterError(wantsJson ? false : '(add --help for usage)').configureOutput({ outputError })
  command.exitOverride((err) => {
    // Usage mistakes exit 2, like other Unix tools; --help and --version exit 0.
    process.exit(err.exitCode === 0 ? 0 : 2)
  })
  for (const sub of command.commands) configure(sub)
}
configure(program)

await program.parseAsync(process.argv)
