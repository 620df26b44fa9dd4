import { randomBytes } from 'node:crypto'
import { InvalidInput } from './errors.js'

/** User ids appear inside Redis hash tags, so braces, spaces and control characters are refused. */
const USER_ID_PATTERN = /^[\x21-\x7a\x7c\x7e]{1,128}$/
const LOCAL_ID_LENGTH = 16
const LOCAL_ID_PATTERN = /^[A-Za-z0-9_-]{16}$/
const TOKEN_ID_PATTERN = /^[A-Za-z0-9_-]{16,64}$/

/**
 * Throws {@link InvalidInput} unless `userId` is a usable user id: 1-128
 * printable ASCII characters without braces or spaces. Every engine method
 * that takes a user id checks it; call it first where a user id from outside
 * reaches anything else (a database) before the engine.
 *
 * @example
 * ```ts
 * assertUserId(request.params.user_id) // InvalidInput (ERR_INVALID_INPUT) for 'a\u0000b'
 * ```
 */
export function assertUserId(userId: unknown): asserts userId is string {
  if (typeof userId !== 'string' || !USER_ID_PATTERN.test(userId)) {
    throw new InvalidInput('userId must be 1-128 printable ASCII characters without braces or spaces')
  }
}

/** True when `tokenId` looks like a jti Tessera could have issued. */
export function isTokenId(tokenId: unknown): tokenId is string {
  return typeof tokenId === 'string' && TOKEN_ID_PATTERN.test(tokenId)
}

/**
 * A session id names its user so any part of the system can find the session's
 * keys (one hash tag per user) without a lookup: `<localId>.<base64url(userId)>`.
 * The local id starts with the creation time in ms, so a user-wide cut-off
 * ("every session created before T is revoked") can be decided from the id alone.
 */
export interface SessionIdParts {
  userId: string
  /** 16 base64url characters, unique within the user. */
  localId: string
  createdAtMs: number
}

/** Makes a new local session id for a session created at `nowMs`. */
export function newLocalSessionId(nowMs: number): string {
  const bytes = randomBytes(12)
  bytes.writeUIntBE(Math.floor(nowMs), 0, 6)
  return bytes.toString('base64url')
}

/** Creation time (epoch ms) embedded in a local session id. */
export function localIdCreatedAtMs(localId: string): number {
  return Buffer.from(localId, 'base64url').readUIntBE(0, 6)
}

/** Joins a user id and a local id into a public session id. */
export function formatSessionId(userId: string, localId: string): string {
  return `${localId}.${Buffer.from(userId, 'utf8').toString('base64url')}`
}

/** Splits a public session id; returns null when it is not one. */
export function parseSessionId(sessionId: unknown): SessionIdParts | null {
  if (typeof sessionId !== 'string' || sessionId.length > 200) return null
  const dot = sessionId.indexOf('.')
  if (dot !== LOCAL_ID_LENGTH) return null
  const localId = sessionId.slice(0, dot)
  const encodedUser = sessionId.slice(dot + 1)
  if (!LOCAL_ID_PATTERN.test(localId) || !/^[A-Za-z0-9_-]+$/.test(encodedUser)) return null
  const userId = Buffer.from(encodedUser, 'base64url').toString('utf8')
  if (!USER_ID_PATTERN.test(userId) || Buffer.from(userId, 'utf8').toString('base64url') !== encodedUser) return null
  return { userId, localId, createdAtMs: localIdCreatedAtMs(localId) }
}

/** A new access-token id (`jti`): 128 random bits. */
export function newTokenId(): string {
  return randomBytes(16).toString('base64url')
}

/** A new refresh secret: 256 random bits. */
export function newRefreshSecret(): Buffer {
  return randomBytes(32)
}
