import { issuerLimitsFromMetadata, KeysUnavailable, type IssuerLimits } from '@tessera/core'
import { isLoopback, readCapped } from './remote-jwks.js'

/** What a verifier learns from the auth server's RFC 8414 metadata. */
export interface IssuerMetadata {
  issuer: string
  /** `jwks_uri`, null when absent. */
  jwksUri: string | null
  /** The Tessera extension members; null when the issuer advertises none. */
  limits: IssuerLimits | null
}

const MAX_METADATA_BYTES = 64 * 1024

/**
 * Fetches and reads the auth server's `/.well-known/oauth-authorization-server`
 * (https only, plain http for loopback hosts; bounded in time and size).
 * Throws {@link KeysUnavailable} when it cannot be fetched, a `TypeError`
 * when the document is not metadata.
 *
 * @example
 * ```ts
 * const { issuer, limits } = await fetchIssuerMetadata('https://auth.example/.well-known/oauth-authorization-server')
 * ```
 */
export async function fetchIssuerMetadata(url: string | URL, options: { timeoutMs?: number; fetch?: typeof fetch } = {}): Promise<IssuerMetadata> {
  const parsed = new URL(url)
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && isLoopback(parsed.hostname))) {
    throw new TypeError('"issuerMetadataUrl" option must be an https URL (plain http only for loopback hosts)')
  }
  // Without credentials or query: the URL goes into error messages.
  const where = `${parsed.origin}${parsed.pathname}`
  const timeoutMs = options.timeoutMs ?? 5000
  let document: unknown
  try {
    const response = await (options.fetch ?? fetch)(parsed, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' }, redirect: 'error' })
    if (!response.ok) throw new Error(`it answered ${response.status}`)
    document = JSON.parse(await readCapped(response, MAX_METADATA_BYTES))
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')
    const reason = timedOut ? `no answer within ${timeoutMs} ms` : err instanceof Error ? err.message : String(err)
    throw new KeysUnavailable(`issuer metadata at ${where} could not be fetched: ${reason}`, { cause: err })
  }
  if (!document || typeof document !== 'object' || Array.isArray(document)) throw new TypeError(`issuer metadata at ${where} is not a JSON object`)
  const members = document as Record<string, unknown>
  if (typeof members.issuer !== 'string' || members.issuer.length === 0) throw new TypeError(`issuer metadata at ${where} has no "issuer"`)
  let limits: IssuerLimits | null
  try {
    limits = issuerLimitsFromMetadata(members)
  } catch (err) {
    throw new TypeError(`issuer metadata at ${where}: ${(err as Error).message}`)
  }
  return { issuer: members.issuer, jwksUri: typeof members.jwks_uri === 'string' ? members.jwks_uri : null, limits }
}
