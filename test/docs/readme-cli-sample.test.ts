// The README's CLI sample is real output: every `$ tessera ...` line of its
// console block runs here (the source through tsx, against the shared Redis
// under a prefix of its own) and must print the lines shown, once ids, times
// and figures are replaced by placeholders on both sides.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { createTessera } from '@tessera/core'
import { redisStoreForTest, SHARED_REDIS_URL, waitFor } from '../support/redis.js'

const README = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8')
const MAIN = fileURLToPath(new URL('../../packages/server/src/cli/main.ts', import.meta.url))
const TOKEN_KEY = 'readme-sample-token-key-of-32-bytes!!'
const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1'
const MAC_CHROME = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'

interface Step {
  command: string
  output: string[]
}

/** The console block of the README's CLI section, as commands and the lines each printed. */
function sample(): Step[] {
  const block = /^## CLI\n[\s\S]*?^```console\n([\s\S]*?)^```/m.exec(README)?.[1]
  assert.ok(block, 'the README has a console sample in its CLI section')
  const steps: Step[] = []
  for (const line of block.trimEnd().split('\n')) {
    if (line.startsWith('$ ')) steps.push({ command: line.slice(2), output: [] })
    else steps.at(-1)!.output.push(line)
  }
  return steps
}

/** Ids, times, positions and figures become placeholders, so only what a reader compares remains. */
function shape(lines: string[], prefix?: string): string[] {
  return lines.map((line) =>
    // The exit code of the last sample line is compared as it is.
    /^exit \d+$/.test(line)
      ? line
      : (prefix ? line.split(prefix).join('tessera:') : line)
      .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<user>')
      .replace(/[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{20,}/g, '<session>')
      .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, '<time>')
      .replace(/\b\d{13}-\d+\b/g, '<position>')
      .replace(/\d+(?:\.\d+)?[KMG]?/g, '<n>'),
  )
}

/** Runs one sample line through sh (quotes, `; echo` and all), `tessera` being the source CLI; stdout and stderr in order. */
function run(command: string, env: Record<string, string>) {
  const line = command.replace(/#.*$/, '').trim().replace(/^tessera /, `"${process.execPath}" --conditions=tessera-source --import tsx "${MAIN}" `)
  const child = spawn('sh', ['-c', `{ ${line}; } 2>&1`], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stdio: ['ignore', 'pipe', 'ignore'] })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d))
  // Generous: each line starts a process that compiles TypeScript through tsx, on a machine that may be busy.
  const killer = setTimeout(() => child.kill('SIGKILL'), 240_000).unref()
  const done = new Promise<string[]>((resolve) =>
    child.once('close', () => {
      clearTimeout(killer)
      resolve(output.trimEnd().split('\n'))
    }),
  )
  return { output: () => output, done, stop: () => child.kill('SIGKILL') }
}

void test('the README CLI sample prints what the CLI prints', async (t) => {
  const steps = sample()
  const { store, prefix, cleanup } = await redisStoreForTest('readme')
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-readme-'))
  t.after(async () => {
    await cleanup()
    rmSync(dataDir, { recursive: true, force: true })
  })
  const env = { REDIS_URL: SHARED_REDIS_URL, TESSERA_REDIS_PREFIX: prefix, TESSERA_TOKEN_KEY: TOKEN_KEY, TESSERA_DATA_DIR: dataDir }

  // The user and devices of the sample: a laptop, then a phone (listed newest first).
  const auth = await createTessera({ store, tokenKey: TOKEN_KEY })
  const userId = randomUUID()
  await auth.createSession({ userId, device: { userAgent: MAC_CHROME, ip: '127.0.0.1', name: 'Work laptop' } })
  const phone = await auth.createSession({ userId, device: { userAgent: IPHONE, ip: '127.0.0.1', name: 'Phone' } })
  const sampleUser = /sessions list (\S+)/.exec(steps.map((s) => s.command).join('\n'))?.[1]
  const sampleSession = /sessions revoke (\S+)/.exec(steps.map((s) => s.command).join('\n'))?.[1]
  assert.ok(sampleUser && sampleSession)
  const real = (command: string) => command.split(sampleUser).join(userId).split(sampleSession).join(phone.sessionId)

  // `events tail` runs "in another terminal" while the others run: start it first, for as many events as the sample shows.
  const tailStep = steps.find((s) => s.command.startsWith('tessera events tail'))!
  const tail = run(`${real(tailStep.command.replace(/#.*$/, '').trim())} --count ${tailStep.output.length - 1}`, env)
  t.after(() => tail.stop())
  await waitFor(() => tail.output().includes('following'), 240_000, 100)

  for (const step of steps) {
    if (step === tailStep || step.command.startsWith('export ')) continue
    const printed = await run(real(step.command), env).done
    assert.deepEqual(shape(printed, prefix), shape(step.output), `$ ${step.command}`)
  }
  assert.deepEqual(shape(await tail.done, prefix), shape(tailStep.output), `$ ${tailStep.command}`)
})
