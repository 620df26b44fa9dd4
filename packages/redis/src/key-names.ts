/**
 * The only place a Redis key string is built: the store's, the delivery
 * queues' and the rate-limit counters' (docs/data-model.md lists them all).
 * Every key one script touches carries one hash tag (`{<userId>}` for a
 * user's keys), so each script touches one slot and runs unchanged on Redis
 * Cluster.
 */
export class KeyNames {
  readonly prefix: string

  constructor(prefix: string) {
    if (typeof prefix !== 'string' || /[{}\s]/.test(prefix) || prefix.length > 64) {
      throw new TypeError('"keyPrefix" option must be at most 64 characters without braces or spaces')
    }
    this.prefix = prefix
  }

  /** Hash of the user's sessions, cut-off and ban. */
  user(userId: string): string {
    return `${this.prefix}{${userId}}:s`
  }

  /** A denied access-token id; expires with the token. */
  deniedToken(userId: string, tokenId: string): string {
    return `${this.prefix}{${userId}}:j:${tokenId}`
  }

  /** Hash of a user's live one-time tokens, four fields per purpose (see `issueOneTimeToken-1.lua`). */
  oneTimeTokens(userId: string): string {
    return `${this.prefix}{${userId}}:o`
  }

  /** The fleet's signing key set (version and sealed document). */
  signingKeys(): string {
    return `${this.prefix}signing-keys`
  }

  /** A DPoP proof seen recently (replay cache); `proofKey` is a hash, so the key needs no hash tag. */
  dpopProof(proofKey: string): string {
    return `${this.prefix}dpop:${proofKey}`
  }

  /** The revocation log stream. */
  revocationLog(): string {
    return `${this.prefix}revocations`
  }

  /**
   * A fixed-window rate-limit counter and its lockout strikes (the server's limits): one hash tag, so
   * the script that counts touches one slot. `key` names what is limited (`login-ip:<address>`).
   */
  rateLimit(key: string): { counter: string; strikes: string } {
    const counter = `${this.prefix}rl:{${key}}`
    return { counter, strikes: `${counter}:strikes` }
  }

  /** A delivery queue's stream, its retry set and its dead letters: one hash tag per queue, so its scripts touch one slot. */
  deliveryQueue(name: string): { stream: string; retries: string; dead: string } {
    const base = `${this.prefix}{q:${name}}`
    return { stream: `${base}:stream`, retries: `${base}:retry`, dead: `${base}:dead` }
  }
}
