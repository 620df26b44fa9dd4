// The load generator's figures: a fixed-count window's req/s must come from the
// time the requests took, not from autocannon's one-second sample ticks (the
// DPoP rows compared 10,000 requests "in 1.01 s" with 10,000 "in 2.01 s").
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { runLoad } from '../lib/load.js'

test('a fixed-count window lasts as long as its requests, not until the next whole second', async (t) => {
  let first = 0
  let last = 0
  const server = createServer((_req, res) => {
    last = performance.now()
    first ||= last
    res.end('ok')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const { port } = server.address() as AddressInfo
  const figures = await runLoad({ url: `http://127.0.0.1:${port}/`, connections: 4, amount: 200 })
  assert.equal(figures.failures, 0)
  const windowMs = (200 / figures.rps) * 1000
  const servedMs = last - first
  // The slack is for a loaded machine's timers; the old rounding added up to a whole second.
  assert.ok(windowMs < servedMs + 500, `window ${windowMs.toFixed(0)} ms for requests served over ${servedMs.toFixed(0)} ms`)
})
