import { readFile, readdir } from 'node:fs/promises'
import { extname, join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { HttpProblem } from '../http-errors.js'

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
}

/**
 * Serves the account page from `webDir` at /account and /account/<name>. The
 * files are listed once at startup and only those names are served, so no
 * path from a request ever reaches the file system.
 */
export async function registerAccountRoutes(app: FastifyInstance, webDir: string | null): Promise<void> {
  const files = new Map<string, { type: string; path: string }>()
  if (webDir) {
    let names: string[] = []
    try {
      names = (await readdir(webDir, { withFileTypes: true })).filter((d) => d.isFile()).map((d) => d.name)
    } catch {
      names = []
    }
    for (const name of names) {
      const type = CONTENT_TYPES[extname(name).toLowerCase()]
      if (type && !name.startsWith('.')) files.set(name, { type, path: join(webDir, name) })
    }
  }
  const serve = async (name: string) => {
    const file = files.get(name)
    if (!file) throw new HttpProblem('ERR_NOT_FOUND', 'no such page')
    return { type: file.type, body: await readFile(file.path) }
  }
  const headers = {
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    // The page handles tokens: keep it out of frames and away from other origins' scripts.
    'content-security-policy': "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    'referrer-policy': 'no-referrer',
  }
  app.get('/account', { schema: { hide: true } }, async (_request, reply) => {
    const { type, body } = await serve('index.html')
    return reply.headers(headers).type(type).send(body)
  })
  app.get<{ Params: { name: string } }>('/account/:name', {
    schema: { hide: true, params: { type: 'object', properties: { name: { type: 'string', maxLength: 200 } } } },
  }, async (request, reply) => {
    const { type, body } = await serve(request.params.name)
    return reply.headers(headers).type(type).send(body)
  })
}
