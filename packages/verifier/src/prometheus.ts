import { Counter, Gauge, type Registry } from 'prom-client'
import type { Verifier } from './verifier.js'

/**
 * Publishes a verifier's {@link Verifier.metrics} in a prom-client registry,
 * read at scrape time (nothing is counted twice on the request path).
 *
 * @example
 * ```ts
 * const registry = new Registry()
 * registerVerifierMetrics(verifier, registry)
 * app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()))
 * ```
 */
export function registerVerifierMetrics(verifier: Verifier, registry: Registry, prefix = 'tessera_verifier_'): void {
  const registers = [registry]
  const gauge = (name: string, help: string, read: () => number | null) =>
    new Gauge({
      name: prefix + name,
      help,
      registers,
      collect() {
        const value = read()
        if (value === null) this.reset()
        else this.set(value)
      },
    })
  const counter = (name: string, help: string, read: () => number) =>
    new Counter({
      name: prefix + name,
      help,
      registers,
      collect() {
        this.reset()
        this.inc(read())
      },
    })
  gauge('cache_hit_ratio', 'Verified-token cache hits over lookups since start', () => verifier.metrics().cacheHitRatio)
  gauge('cache_entries', 'Tokens in the verified-token cache', () => verifier.metrics().cacheSize)
  gauge('revocation_set_entries', 'Revoked sessions, denied token ids and user cut-offs held in process', () => verifier.metrics().revocationSetSize)
  gauge('log_lag_seconds', 'For the newest revocation: applied here minus written to the log', () => seconds(verifier.metrics().logLagMs))
  gauge('log_last_event_age_seconds', 'Time since the last revocation was applied', () => seconds(verifier.metrics().timeSinceLastEventMs))
  gauge('log_last_contact_age_seconds', 'Time since the last successful read of the revocation log', () => seconds(verifier.metrics().timeSinceLastLogContactMs))
  counter('cache_hits_total', 'Verified-token cache hits', () => verifier.metrics().cacheHits)
  counter('cache_misses_total', 'Verified-token cache misses', () => verifier.metrics().cacheMisses)
  counter('fallbacks_total', 'Times cached mode stopped trusting its revocation set', () => verifier.metrics().fallbacks)
  counter('fallback_checks_total', 'Requests checked in the store (or refused) because the set was not trusted', () => verifier.metrics().fallbackChecks)
  counter('log_gaps_total', 'Times entries were missed because the log was trimmed past our position', () => verifier.metrics().logGaps)
  counter('log_read_errors_total', 'Failed reads of the revocation log', () => verifier.metrics().logReadErrors)
  counter('store_checks_total', 'Store round trips for strict checks', () => verifier.metrics().storeChecks)
}

function seconds(ms: number | null): number | null {
  return ms === null ? null : ms / 1000
}
