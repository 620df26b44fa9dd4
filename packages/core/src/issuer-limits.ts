/**
 * The limits of an issuer that a verifier must know to remember revocations
 * long enough: the same three numbers its heartbeats carry in the revocation
 * log (docs/revocation-log.md), and its RFC 8414 metadata advertises under
 * Tessera extension fields (docs/verifiers.md, "Issuer limits").
 */
export interface IssuerLimits {
  /** Access-token lifetime. */
  accessTokenTtlSeconds: number
  /** Clock tolerance the issuer applies to `exp`/`nbf`/`iat`. */
  clockToleranceSeconds: number
  /** Refresh grace window: a retried refresh may issue a token this long after the session's last refresh. */
  refreshGraceSeconds: number
}

/** Metadata member of each limit: one table, so the server that writes and the verifiers that read cannot drift. */
export const ISSUER_LIMIT_METADATA_FIELDS = {
  accessTokenTtlSeconds: 'tessera_access_token_ttl_seconds',
  clockToleranceSeconds: 'tessera_clock_tolerance_seconds',
  refreshGraceSeconds: 'tessera_refresh_grace_seconds',
} as const satisfies Record<keyof IssuerLimits, string>

/** How long a revocation matters (ms): a token may be issued up to the grace after a refresh and live its lifetime, plus tolerance. */
export function revocationHorizonMs(limits: IssuerLimits): number {
  return (limits.accessTokenTtlSeconds + limits.refreshGraceSeconds + limits.clockToleranceSeconds) * 1000
}

/** The metadata members that advertise `limits`. */
export function issuerLimitsToMetadata(limits: IssuerLimits): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [name, field] of Object.entries(ISSUER_LIMIT_METADATA_FIELDS)) out[field] = limits[name as keyof IssuerLimits]
  return out
}

/**
 * Reads the limits back from a metadata document; null when it advertises
 * none (an issuer that is not Tessera, or older). Throws a `TypeError` when a
 * member is there but is not a non-negative integer.
 */
export function issuerLimitsFromMetadata(document: Record<string, unknown>): IssuerLimits | null {
  const entries = Object.entries(ISSUER_LIMIT_METADATA_FIELDS)
  if (entries.every(([, field]) => document[field] === undefined)) return null
  const limits: Partial<IssuerLimits> = {}
  for (const [name, field] of entries) {
    const value = document[field]
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new TypeError(`metadata member "${field}" must be a non-negative integer`)
    limits[name as keyof IssuerLimits] = value
  }
  return limits as IssuerLimits
}
