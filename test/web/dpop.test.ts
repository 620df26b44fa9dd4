// The account page binds its own session with DPoP (issue 15), in Debian's
// Chromium against the real server: a non-extractable key in IndexedDB signs
// the proofs, the session's tokens carry its thumbprint, and the refresh
// cookie copied into another browser context refreshes nothing; the server
// reports that as theft and ends the session. Also: server nonces, and the
// bearer fallback of a browser without IndexedDB.
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { calculateJwkThumbprint, decodeJwt, type JWK } from 'jose'
import type { Browser, BrowserContext, Page, Response } from 'playwright-core'
import { waitFor } from '../support/redis.js'
import { BROWSER_TESTS_AT_ONCE, newDevice, startAccountServer, startServerAndBrowser, type AccountServer } from './harness.js'

const PASSWORD = 'correct horse battery'

/** What the page's key looks like from inside the page, read straight from IndexedDB. */
interface PageKey {
  extractable: boolean
  usages: string[]
  exportRefusal: string
  publicJwk: JWK
}

const READ_KEY = `new Promise((resolve, reject) => {
  const open = indexedDB.open('tessera-dpop')
  open.onerror = () => reject(open.error)
  open.onsuccess = () => {
    const get = open.result.transaction('keys').objectStore('keys').get('session-key')
    get.onerror = () => reject(get.error)
    get.onsuccess = async () => {
      const pair = get.result
      const exportRefusal = await crypto.subtle.exportKey('jwk', pair.privateKey).then(() => 'exported', (e) => e.name)
      resolve({ extractable: pair.privateKey.extractable, usages: pair.privateKey.usages, exportRefusal, publicJwk: await crypto.subtle.exportKey('jwk', pair.publicKey) })
    }
  }
})`

describe('account page DPoP binding in Chromium', { concurrency: BROWSER_TESTS_AT_ONCE }, () => {
  let server: AccountServer
  let browser: Browser
  const contexts: BrowserContext[] = []

  async function device(): Promise<BrowserContext> {
    const context = await newDevice(browser)
    contexts.push(context)
    return context
  }

  async function register(at: AccountServer, label: string): Promise<string> {
    const email = `${label}-${randomUUID().slice(0, 8)}@example.test`
    const res = await fetch(`${at.baseUrl}/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: PASSWORD }) })
    assert.equal(res.status, 202, await res.text())
    return email
  }

  /** Signs in through the form; resolves with every /auth/login response the page got, last one successful. */
  async function signIn(page: Page, at: AccountServer, email: string): Promise<Response[]> {
    const logins: Response[] = []
    const onResponse = (res: Response) => {
      if (new URL(res.url()).pathname === '/auth/login') logins.push(res)
    }
    page.on('response', onResponse)
    await page.goto(`${at.baseUrl}/account`)
    await page.locator('#sign-in-email').fill(email)
    await page.locator('#sign-in-password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
    await page.getByRole('heading', { name: 'Your account' }).waitFor()
    await page.locator('#devices > li').first().waitFor()
    page.off('response', onResponse)
    return logins
  }

  before(async () => {
    // Default token lifetimes: no refresh timer runs during a test, so every refresh seen is the one the test makes.
    ;({ server, browser } = await startServerAndBrowser())
  })

  after(async () => {
    await Promise.allSettled(contexts.map((c) => c.close()))
    await browser?.close()
    await server?.close()
  })

  test('signing in binds the session to a non-extractable key kept in IndexedDB, used for refresh and API calls', async () => {
    const page = await (await device()).newPage()
    const logins = await signIn(page, server, await register(server, 'bound'))
    const reply = (await logins.at(-1)!.json()) as { access_token: string; token_type: string }
    assert.equal(reply.token_type, 'DPoP')

    const key = await page.evaluate<PageKey>(READ_KEY)
    assert.equal(key.extractable, false, 'the private key cannot be exported')
    assert.equal(key.exportRefusal, 'InvalidAccessError')
    assert.deepEqual(key.usages, ['sign'])
    const thumbprint = await calculateJwkThumbprint(key.publicJwk)
    assert.deepEqual(decodeJwt(reply.access_token).cnf, { jkt: thumbprint }, 'the access token is bound to this browser key')

    // A reload resumes from the cookie with a proof of the same key, and API calls carry the DPoP scheme and a proof.
    const calls: { path: string; authorization: string; dpop: boolean }[] = []
    page.on('request', (request) => {
      const path = new URL(request.url()).pathname
      if (path.startsWith('/auth/')) calls.push({ path, authorization: (request.headers().authorization ?? '').split(' ')[0]!, dpop: Boolean(request.headers().dpop) })
    })
    const refreshed = page.waitForResponse((res) => new URL(res.url()).pathname === '/auth/refresh')
    await page.reload()
    const refreshReply = (await (await refreshed).json()) as { access_token: string; token_type: string }
    assert.equal(refreshReply.token_type, 'DPoP')
    assert.deepEqual(decodeJwt(refreshReply.access_token).cnf, { jkt: thumbprint })
    await page.locator('#devices > li').first().waitFor()
    assert.deepEqual(calls.find((c) => c.path === '/auth/refresh'), { path: '/auth/refresh', authorization: '', dpop: true })
    assert.deepEqual(calls.find((c) => c.path === '/auth/me'), { path: '/auth/me', authorization: 'DPoP', dpop: true })
    assert.deepEqual(calls.find((c) => c.path === '/auth/sessions'), { path: '/auth/sessions', authorization: 'DPoP', dpop: true })
    // The device list says the session is bound to this browser's key.
    assert.equal(await page.locator('#devices > li').first().locator('.badge-bound').isVisible(), true)
  })

  test('the refresh cookie copied into another browser refreshes nothing, with or without a proof, and the server ends the session as stolen', async () => {
    const mismatches: string[] = []
    server.resources.auth.on('dpop_key_mismatch', ({ sessionId }) => mismatches.push(sessionId))

    for (const thief of ['its own account page', 'a request without a proof'] as const) {
      const victim = await (await device()).newPage()
      const logins = await signIn(victim, server, await register(server, 'victim'))
      const { session_id: sessionId } = (await logins.at(-1)!.json()) as { session_id: string }
      const jar = await victim.context().cookies()
      assert.ok(jar.find((c) => c.name === 'tessera_refresh'), 'refresh cookie set')

      // The whole cookie jar, as a thief copying a browser profile would take it (refresh cookie and session hint).
      const other = await device()
      await other.addCookies(jar)
      let refusal: { status: number; code: string }
      if (thief === 'its own account page') {
        // The second browser's page has a key of its own; its proof names that key, not the session's.
        const page = await other.newPage()
        const refreshed = page.waitForResponse((res) => new URL(res.url()).pathname === '/auth/refresh')
        await page.goto(`${server.baseUrl}/account`)
        const res = await refreshed
        refusal = { status: res.status(), code: ((await res.json()) as { code: string }).code }
        await page.getByRole('heading', { name: 'Your Tessera account' }).waitFor()
      } else {
        const res = await other.request.post(`${server.baseUrl}/auth/refresh`, { headers: { 'x-tessera-client': 'browser', 'x-tessera-csrf': '1' }, data: {} })
        refusal = { status: res.status(), code: ((await res.json()) as { code: string }).code }
      }
      assert.deepEqual(refusal, { status: 401, code: 'ERR_DPOP_KEY_MISMATCH' }, thief)

      // Reported like refresh token reuse: the event fires and the session is over, for the owner too.
      await waitFor(() => mismatches.includes(sessionId), 10_000)
      await victim.getByRole('button', { name: 'Refresh list' }).click()
      await victim.getByRole('heading', { name: 'Your Tessera account' }).waitFor()
      assert.match((await victim.locator('#notice').textContent()) ?? '', /signed out/i)
    }
  })

  test('without IndexedDB the page stays on bearer tokens', async () => {
    const context = await device()
    await context.addInitScript('Object.defineProperty(window, "indexedDB", { value: undefined })')
    const page = await context.newPage()
    const logins = await signIn(page, server, await register(server, 'bearer'))
    const reply = (await logins.at(-1)!.json()) as { access_token: string; token_type: string }
    assert.equal(reply.token_type, 'Bearer')
    assert.equal(decodeJwt(reply.access_token).cnf, undefined)
    await page.reload()
    await page.locator('#devices > li').first().waitFor()
    assert.equal(await page.locator('#devices > li').first().locator('.badge-bound').isVisible(), false, 'a bearer session is not shown as key-bound')
  })

  test("a browser clock ten minutes slow still signs in: the page follows the server's Date", async () => {
    const page = await (await device()).newPage()
    // Date.now() in the page stays ten minutes back (timers keep running): proofs stamped with it would be too old.
    await page.clock.setFixedTime(new Date(Date.now() - 10 * 60_000))
    const proofs: string[] = []
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/auth/login' && request.headers().dpop) proofs.push(request.headers().dpop!)
    })
    const logins = await signIn(page, server, await register(server, 'clock'))
    // At most one refusal (too old) before the page has seen the server's Date; then the proof is right.
    const statuses = await Promise.all(logins.map(async (res) => [res.status(), ((await res.json()) as { code?: string }).code ?? ''] as const))
    assert.deepEqual(statuses.slice(0, -1), statuses.length === 2 ? [[400, 'ERR_DPOP_PROOF_INVALID']] : [], JSON.stringify(statuses))
    assert.deepEqual(statuses.at(-1), [200, ''])
    assert.equal(((await logins.at(-1)!.json()) as { token_type: string }).token_type, 'DPoP')
    const iat = decodeJwt(proofs.at(-1)!).iat!
    assert.ok(Math.abs(iat - Date.now() / 1000) < 60, `proof iat ${iat} follows the server clock, not the page's`)
  })

  test('with server nonces on, the page takes the nonce from the refusal and retries by itself', async () => {
    const nonced = await startAccountServer({ TESSERA_DPOP_NONCES: 'true' })
    try {
      const page = await (await device()).newPage()
      const logins = await signIn(page, nonced, await register(nonced, 'nonce'))
      const statuses = await Promise.all(logins.map(async (res) => [res.status(), ((await res.json()) as { code?: string; token_type?: string }).code ?? ''] as const))
      assert.deepEqual(statuses, [
        [400, 'ERR_DPOP_NONCE_REQUIRED'],
        [200, ''],
      ])
      assert.equal(((await logins[1]!.json()) as { token_type: string }).token_type, 'DPoP')
      // The token response's nonce serves the next calls: a reload refreshes and lists devices without another refusal.
      const refused: string[] = []
      page.on('response', (res) => {
        if (res.status() >= 400) refused.push(`${res.status()} ${new URL(res.url()).pathname}`)
      })
      await page.reload()
      await page.getByRole('heading', { name: 'Your account' }).waitFor()
      await page.locator('#devices > li').first().waitFor()
      // A reload starts a new page without the nonce in memory: its first refresh may meet use_dpop_nonce once.
      assert.ok(refused.every((r) => r === '400 /auth/refresh'), refused.join(', '))
      assert.ok(refused.length <= 1, refused.join(', '))
    } finally {
      await nonced.close()
    }
  })

  test('a nonce the server no longer takes: a protected call is refused with use_dpop_nonce and the page retries with the fresh one', async () => {
    const nonced = await startAccountServer({ TESSERA_DPOP_NONCES: 'true' })
    try {
      const page = await (await device()).newPage()
      // The successful sign-in hands the page a nonce of another server's key (well-formed, never accepted here),
      // so the page's first protected call, listing the devices, carries a nonce the server refuses.
      await page.route('**/auth/login', async (route) => {
        const response = await route.fetch()
        const headers = response.headers()
        if (response.status() === 200) headers['dpop-nonce'] = 'A'.repeat(30)
        await route.fulfill({ response, headers })
      })
      const calls: { path: string; status: number; challenge: string; nonce: string | null }[] = []
      page.on('response', (res) => {
        const path = new URL(res.url()).pathname
        if (path === '/auth/me' || path === '/auth/sessions') calls.push({ path, status: res.status(), challenge: res.headers()['www-authenticate'] ?? '', nonce: res.headers()['dpop-nonce'] ?? null })
      })
      await signIn(page, nonced, await register(nonced, 'stale-nonce'))
      // The page's first protected call after sign-in reads the account (/auth/me).
      const [refusal, ...rest] = calls
      assert.equal(refusal?.path, '/auth/me', JSON.stringify(calls))
      assert.equal(refusal.status, 401)
      assert.match(refusal.challenge, /^DPoP .*error="use_dpop_nonce"/)
      assert.ok(refusal.nonce && refusal.nonce !== 'A'.repeat(30), 'the refusal carries a fresh nonce')
      assert.deepEqual(
        rest.map((c) => `${c.status} ${c.path}`),
        ['200 /auth/me', '200 /auth/sessions'],
        'retried once with the fresh nonce, which then serves the next call',
      )
    } finally {
      await nonced.close()
    }
  })
})
