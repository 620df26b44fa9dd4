// The embedded default across restarts, as a user lives it: `tessera serve`
// stopped with SIGTERM keeps every session; killed with SIGKILL (no shutdown at
// all) it still forgets no sign-out. The store keeps its files in the data dir.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { PASSWORD, uniqueEmail } from './helpers.js'
import { serve } from './serve-child.js'

interface Tokens {
  access_token: string
  refresh_token: string
  session_id: string
}

void test('embedded: sessions survive a restart, and a sign-out survives kill -9', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-restart-'))
  const running: ReturnType<typeof serve>[] = []
  t.after(async () => {
    for (const server of running) {
      if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL')
      await server.exited
    }
    rmSync(dataDir, { recursive: true, force: true })
  })
  const start = async () => {
    const server = serve({ PORT: '0', TESSERA_DATA_DIR: dataDir, TESSERA_HASHING_PROCESSES: '1' })
    running.push(server)
    return { server, url: await server.listening }
  }
  const post = (url: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
  const email = uniqueEmail()

  // 1. Sign in on two devices, then a graceful stop.
  const first = await start()
  assert.equal((await post(first.url, '/auth/register', { email, password: PASSWORD })).status, 202)
  const kept = (await (await post(first.url, '/auth/login', { email, password: PASSWORD })).json()) as Tokens
  const signedOut = (await (await post(first.url, '/auth/login', { email, password: PASSWORD })).json()) as Tokens
  first.server.child.kill('SIGTERM')
  assert.equal(await first.server.exited, 0)

  // 2. After the restart both sessions are alive; one device signs out, then the process is killed outright.
  const second = await start()
  const refreshed = await post(second.url, '/auth/refresh', { refresh_token: kept.refresh_token })
  assert.equal(refreshed.status, 200, 'a session from before the restart still refreshes')
  const keptNext = (await refreshed.json()) as Tokens
  assert.equal(keptNext.session_id, kept.session_id)
  assert.equal((await post(second.url, '/auth/logout', undefined, { authorization: `Bearer ${signedOut.access_token}` })).status, 204)
  second.server.child.kill('SIGKILL')
  await second.server.exited

  // 3. The sign-out and the rotation both came back from the journal.
  const third = await start()
  assert.match(third.server.output().stdout, /session store: recovered \d+ changes from .*sessions after an unclean stop/)
  const revoked = await post(third.url, '/auth/refresh', { refresh_token: signedOut.refresh_token })
  assert.equal(revoked.status, 401, 'the signed-out device stays signed out')
  const rotated = await post(third.url, '/auth/refresh', { refresh_token: keptNext.refresh_token })
  assert.equal(rotated.status, 200, 'the rotated token from before the kill refreshes')
  third.server.child.kill('SIGTERM')
  assert.equal(await third.server.exited, 0)
})
