import { RefreshTokenInvalid } from './errors.js'
import { formatSessionId, parseSessionId, type SessionIdParts } from './ids.js'
import type { TokenSecrets } from './token-secrets.js'

const PREFIX = 'tsr1'
const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/
const TAG_PATTERN = /^[A-Za-z0-9_-]{22}$/
const MAX_LENGTH = 400

/** What a refresh token carries: enough to find its session in one step, and the secret. */
export interface RefreshTokenParts extends SessionIdParts {
  sessionId: string
  generation: number
  secret: Buffer
}

/**
 * Formats `tsr1.<localId>.<base64url userId>.<generation>.<secret>.<tag>`. The prefix
 * lets secret scanners spot leaked tokens; the tag proves Tessera issued it.
 */
export function formatRefreshToken(secrets: TokenSecrets, sessionId: string, generation: number, secret: Buffer): string {
  const encodedSecret = secret.toString('base64url')
  const tag = secrets.tag(PREFIX, sessionId, String(generation), encodedSecret)
  return `${PREFIX}.${sessionId}.${generation}.${encodedSecret}.${tag}`
}

/** Parses and authenticates a refresh token; throws {@link RefreshTokenInvalid} on anything else. */
export function parseRefreshToken(secrets: TokenSecrets, token: unknown): RefreshTokenParts {
  if (typeof token !== 'string' || token.length > MAX_LENGTH) throw new RefreshTokenInvalid()
  const parts = token.split('.')
  if (parts.length !== 6 || parts[0] !== PREFIX) throw new RefreshTokenInvalid()
  const [, localId, encodedUser, generationText, encodedSecret, tag] = parts as [string, string, string, string, string, string]
  const session = parseSessionId(`${localId}.${encodedUser}`)
  if (!session || !/^[1-9][0-9]{0,8}$/.test(generationText) || !SECRET_PATTERN.test(encodedSecret) || !TAG_PATTERN.test(tag)) {
    throw new RefreshTokenInvalid()
  }
  const sessionId = formatSessionId(session.userId, session.localId)
  if (!secrets.verifyTag(tag, PREFIX, sessionId, generationText, encodedSecret)) throw new RefreshTokenInvalid()
  return { ...session, sessionId, generation: Number(generationText), secret: Buffer.from(encodedSecret, 'base64url') }
}
