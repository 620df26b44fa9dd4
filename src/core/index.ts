export { createTessera, Tessera, type SessionInfo, type SessionTokens, type VerificationMode } from './tessera.js'
export { resolveOptions, DEFAULT_AUTH_OPTIONS, MAX_SESSIONS_LIMIT, type AuthOptions, type ResolvedAuthOptions } from './options.js'
export {
  AuthError,
  AccessTokenInvalid,
  AccessTokenExpired,
  AccessTokenRevoked,
  RefreshTokenInvalid,
  RefreshTokenExpired,
  RefreshTokenReused,
  SessionNotFound,
  SessionRevoked,
  SessionLimitReached,
  UserBanned,
  OneTimeTokenInvalid,
  InvalidInput,
  StoreUnavailable,
  type AuthErrorCode,
} from './errors.js'
export { systemClock, manualClock, type Clock } from './clock.js'
export { SigningKeySet, SIGNING_ALGORITHMS, type SigningAlgorithm, type SigningKeyRecord } from './signing-keys.js'
export {
  issueAccessToken,
  verifyAccessTokenSignature,
  claimsFromPayload,
  ACCESS_TOKEN_TYPE,
  MAX_ACCESS_TOKEN_LENGTH,
  type AccessTokenClaims,
  type IssueAccessTokenInput,
  type VerifyAccessTokenOptions,
} from './access-token.js'
export { MemoryStore } from './memory-store.js'
export { parseSessionId, formatSessionId, type SessionIdParts } from './ids.js'
export { normaliseDevice, decodeDeviceMetadata, encodeDeviceMetadata, type DeviceInfo } from './device.js'
export { comparePositions, type RevocationEvent, type RevocationLogEntry, type RevocationLogRead, type RevocationLogInfo, type RevocationReason } from './revocation-log.js'
export type * from './session-store.js'
export type { TesseraEvents } from './events.js'
export {
  signWebhook,
  verifyWebhook,
  generateWebhookSecret,
  webhookSecretKey,
  WebhookVerificationError,
  WEBHOOK_TOLERANCE_SECONDS,
  type WebhookVerificationCode,
} from './webhook-signature.js'
export { MemoryDeliveryQueue } from './memory-delivery-queue.js'
export { DEAD_LETTER_LIMIT, type DeliveryQueue, type NewDelivery, type QueuedDelivery, type DeadDelivery } from './delivery-queue.js'
