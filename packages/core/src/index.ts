export { createTessera, Tessera, type SessionInfo, type SessionTokens, type TokenInspection, type VerificationMode } from './tessera.js'
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
  KeysUnavailable,
  DpopProofInvalid,
  DpopNonceRequired,
  DpopKeyMismatch,
  type AuthErrorCode,
} from './errors.js'
export { systemClock, manualClock, type Clock } from './clock.js'
export { SigningKeySet, SIGNING_ALGORITHMS, type SigningAlgorithm, type SigningKeyRecord } from './signing-keys.js'
export { issueAccessToken, claimsFromPayload, ACCESS_TOKEN_TYPE, MAX_ACCESS_TOKEN_LENGTH, type AccessTokenClaims, type IssueAccessTokenInput } from './access-token.js'
export {
  JwsVerifier,
  verifyAccessTokenSignature,
  signingKeyFor,
  toKeyObject,
  type JwsVerifierOptions,
  type ParsedAccessToken,
  type VerificationKey,
  type VerifyAccessTokenOptions,
} from './jws-verifier.js'
export { MemoryStore } from './memory-store.js'
export { PersistentMemoryStore, MemoryStoreFileError, SNAPSHOT_FILE, JOURNAL_FILE, type MemoryStoreRecovery } from './memory-store-file.js'
export { assertUserId, parseSessionId, formatSessionId, newLocalSessionId, newTokenId, localIdCreatedAtMs, type SessionIdParts } from './ids.js'
export { normaliseDevice, encodeDeviceMetadata, printable, type DeviceInfo } from './device.js'
export {
  REVOCATION_LOG_VERSION,
  type IssuerHeartbeat,
  type IssuerHeartbeatFields,
  type RevocationEvent,
  type RevocationLogEntry,
  type RevocationLogRead,
  type RevocationLogInfo,
  type RevocationReason,
} from './revocation-log.js'
export { ISSUER_LIMIT_METADATA_FIELDS, issuerLimitsFromMetadata, issuerLimitsToMetadata, revocationHorizonMs, type IssuerLimits } from './issuer-limits.js'
export type * from './session-store.js'
export type * from './signing-key-store.js'
export { SharedSigningKeys, DEFAULT_SHARED_SIGNING_KEYS, type SharedSigningKeysOptions } from './shared-signing-keys.js'
export { SigningKeysUnreadable } from './sealed-signing-keys.js'
export type { TesseraEvents } from './events.js'
export {
  DpopProofChecker,
  accessTokenHash,
  DPOP_PROOF_TYPE,
  MAX_DPOP_PROOF_LENGTH,
  type DpopPresentation,
  type DpopExpectation,
  type VerifiedDpopProof,
  type DpopReplayCache,
} from './dpop/dpop-proof.js'
export { resolveDpopOptions, DPOP_ALGORITHMS, DEFAULT_DPOP_OPTIONS, type DpopOptions, type ResolvedDpopOptions, type DpopAlgorithm } from './dpop/dpop-options.js'
export { checkTokenPresentation } from './dpop/dpop-binding.js'
export { DpopNonces } from './dpop/dpop-nonces.js'
export { jwkThumbprint, publicJwk, type PublicJwk } from './dpop/jwk-thumbprint.js'
export { normaliseHtu } from './dpop/request-url.js'
export {
  signWebhook,
  verifyWebhook,
  generateWebhookSecret,
  webhookSecretKey,
  WebhookVerificationError,
  WEBHOOK_TOLERANCE_SECONDS,
  type WebhookVerificationCode,
} from './webhook-signature.js'
export { MemoryDeliveryQueue, type MemoryDeliveryQueueState } from './memory-delivery-queue.js'
export { DEAD_LETTER_LIMIT, type DeliveryQueue, type NewDelivery, type QueuedDelivery, type DeadDelivery } from './delivery-queue.js'
