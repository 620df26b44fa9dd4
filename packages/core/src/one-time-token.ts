import { OneTimeTokenInvalid } from './errors.js'
import type { TokenSecrets } from './token-secrets.js'

const PREFIX = 'tso1'
const PURPOSE_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/

/** What a one-time token carries. */
export interface OneTimeTokenParts {
  userId: string
  purpose: string
  secret: Buffer
}

/** True for a usable purpose name such as `password-reset` or `email-verification`. */
export function isPurpose(purpose: unknown): purpose is string {
  return typeof purpose === 'string' && PURPOSE_PATTERN.test(purpose)
}

/** Formats `tso1.<base64url userId>.<purpose>.<secret>.<tag>`. */
export function formatOneTimeToken(secrets: TokenSecrets, userId: string, purpose: string, secret: Buffer): string {
  const encodedUser = Buffer.from(userId, 'utf8').toString('base64url')
  const encodedSecret = secret.toString('base64url')
  return `${PREFIX}.${encodedUser}.${purpose}.${encodedSecret}.${secrets.tag(PREFIX, encodedUser, purpose, encodedSecret)}`
}

/**
 * Parses and authenticates a one-time token. Forged tokens fail here, before
 * the store is asked, so they cannot burn a real token's attempts.
 */
export function parseOneTimeToken(secrets: TokenSecrets, token: unknown): OneTimeTokenParts {
  if (typeof token !== 'string' || token.length > 400) throw new OneTimeTokenInvalid()
  const parts = token.split('.')
  if (parts.length !== 5 || parts[0] !== PREFIX) throw new OneTimeTokenInvalid()
  const [, encodedUser, purpose, encodedSecret, tag] = parts as [string, string, string, string, string]
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(encodedUser) || !isPurpose(purpose) || !/^[A-Za-z0-9_-]{43}$/.test(encodedSecret)) {
    throw new OneTimeTokenInvalid()
  }
  if (!/^[A-Za-z0-9_-]{22}$/.test(tag) || !secrets.verifyTag(tag, PREFIX, encodedUser, purpose, encodedSecret)) {
    throw new OneTimeTokenInvalid()
  }
  return { userId: Buffer.from(encodedUser, 'base64url').toString('utf8'), purpose, secret: Buffer.from(encodedSecret, 'base64url') }
}
