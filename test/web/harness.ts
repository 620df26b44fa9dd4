// What the browser tests share: the real server on embedded defaults in a temp
// data dir (listening on a loopback port), Debian's Chromium through
// playwright-core, and the dev mail outbox.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { appOptions, buildApp, loadConfig, openResources, type ServerResources } from '@tessera/server'
import { waitFor } from '../support/redis.js'

export const CHROMIUM_PATH = process.env.TESSERA_CHROMIUM ?? '/usr/bin/chromium'
export const OUTPUT_DIR = join(import.meta.dirname, '..', '..', 'test-output', 'web')

/** The account server under test. */
export interface AccountServer {
  baseUrl: string
  app: FastifyInstance
  resources: ServerResources
  outboxDir: string
  close(): Promise<void>
}

/** Starts the real server (memory session store, embedded user database, dev outbox) on 127.0.0.1:<free port>. */
export async function startAccountServer(env: Record<string, string> = {}): Promise<AccountServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-web-'))
  const outboxDir = join(dataDir, 'outbox')
  // Hashing competes for the CPU (nice, at 0) as it did before SCHED_IDLE: Chromium renders at normal priority beside
  // this server, and at the default `idle` its sign-ins waited past the pool's 10 s limit (503) with two browser
  // suites running. The page is what these suites test; the scheduling has its own tests (hashing-pool.test.ts).
  const config = loadConfig({ TESSERA_DATA_DIR: dataDir, TESSERA_MAIL_OUTBOX: outboxDir, LOG_LEVEL: 'silent', TESSERA_HASHING_PRIORITY: 'nice', TESSERA_HASHING_NICE: '0', ...env })
  const resources = await openResources(config)
  let app: FastifyInstance
  try {
    app = await buildApp({
      ...appOptions(config, resources),
      // Every browser here comes from 127.0.0.1; the limits themselves are tested with the server.
      rateLimits: {
        loginPerIp: { max: 10_000, windowSeconds: 60 },
        loginPerAccount: { max: 1_000, windowSeconds: 60 },
        refreshPerIp: { max: 10_000, windowSeconds: 60 },
        sensitivePerIp: { max: 10_000, windowSeconds: 60 },
      },
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
  } catch (err) {
    await resources.close()
    rmSync(dataDir, { recursive: true, force: true })
    throw err
  }
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    app,
    resources,
    outboxDir,
    async close() {
      await app.close()
      await resources.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** How long a Chromium launch may take before the suite gives up (playwright's own default is 3 minutes). */
const LAUNCH_TIMEOUT_MS = 30_000

/** Debian's Chromium, headless, with nothing reaching beyond loopback; a failed launch says which binary and how to get one. */
export async function launchChromium(): Promise<Browser> {
  try {
    return await chromium.launch({
      executablePath: CHROMIUM_PATH,
      timeout: LAUNCH_TIMEOUT_MS,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
    })
  } catch (err) {
    const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0]
    throw new Error(`could not launch Chromium at ${CHROMIUM_PATH} (${reason}); install it (apt-get install chromium) or set TESSERA_CHROMIUM`, { cause: err })
  }
}

/**
 * Starts the account server and Chromium side by side. When either fails the
 * other is closed before the error is thrown, so a failed launch releases the
 * listening server and ends the suite at once instead of holding the run.
 */
export async function startServerAndBrowser(env: Record<string, string> = {}): Promise<{ server: AccountServer; browser: Browser }> {
  const [server, browser] = await Promise.allSettled([startAccountServer(env), launchChromium()])
  if (server.status === 'fulfilled' && browser.status === 'fulfilled') return { server: server.value, browser: browser.value }
  await Promise.allSettled([server.status === 'fulfilled' ? server.value.close() : null, browser.status === 'fulfilled' ? browser.value.close() : null])
  throw server.status === 'rejected' ? server.reason : (browser as PromiseRejectedResult).reason
}

/** One mail from the dev outbox. */
export interface OutboxMail {
  to: string
  subject: string
  text: string
}

/** Waits for the newest mail to `to` whose subject matches, newer than `sinceMs`. */
export async function waitForMail(outboxDir: string, to: string, subject: RegExp, sinceMs: number): Promise<OutboxMail> {
  let found: OutboxMail | null = null
  await waitFor(() => {
    let names: string[] = []
    try {
      names = readdirSync(outboxDir).filter((n) => n.endsWith('.json'))
    } catch {
      return false
    }
    const fresh = names
      .map((name) => ({ path: join(outboxDir, name), mtimeMs: statSync(join(outboxDir, name)).mtimeMs }))
      .filter((f) => f.mtimeMs >= sinceMs - 1000)
      .sort((a, b) => b.mtimeMs - a.mtimeMs)
    for (const file of fresh) {
      const mail = JSON.parse(readFileSync(file.path, 'utf8')) as OutboxMail
      if (mail.to === to && subject.test(mail.subject)) {
        found = mail
        return true
      }
    }
    return false
  }, 30_000)
  return found!
}

/** The account-page link in a mail, moved onto `baseUrl` (the mail carries the configured public URL). */
export function accountLink(mail: OutboxMail, baseUrl: string): string {
  const match = /https?:\/\/\S+\/account#\S+/.exec(mail.text)
  if (!match) throw new Error(`no account link in mail "${mail.subject}"`)
  const link = new URL(match[0])
  return `${baseUrl}/account${link.hash}`
}

/** Saves a full-page screenshot under test-output/web/. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(OUTPUT_DIR, { recursive: true })
  const path = join(OUTPUT_DIR, `${name}.png`)
  await page.screenshot({ path, fullPage: true })
  return path
}

/**
 * How long a navigation, click or wait in a page may take before the test fails
 * (playwright's own default is 30 s). A page load took over 30 s with both
 * browser suites running on a busy 2-core machine (CI, 2026-12-03: page.goto
 * timed out while every step was only slow, not stuck); a step that never
 * happens still fails, well inside the 240 s test timeout.
 */
export const PAGE_TIMEOUT_MS = 90_000

/**
 * How many tests of one browser suite run at once. Every test drives its own
 * browser contexts, and all of them at once (17 pages with both suites) only
 * made each step slower on two cores; a few at a time finish in about the same
 * total time with shorter waits.
 */
export const BROWSER_TESTS_AT_ONCE = 4

/** A new browser context (one device) with its own cookie jar and user agent. */
export async function newDevice(browser: Browser, userAgent?: string, viewport = { width: 1024, height: 800 }): Promise<BrowserContext> {
  const context = await browser.newContext({ ...(userAgent ? { userAgent } : {}), viewport, locale: 'en-GB', timezoneId: 'UTC' })
  context.setDefaultTimeout(PAGE_TIMEOUT_MS)
  return context
}
