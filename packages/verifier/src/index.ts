export { createEngineVerifier } from './engine-verifier.js'
export { createVerifier } from './create-verifier.js'
export { Verifier, RevocationLogSilent, type VerifierEvents } from './verifier.js'
export type { VerifierMetrics } from './verifier-metrics.js'
export { resolveVerifierOptions, DEFAULT_VERIFIER_OPTIONS, type VerifierOptions, type ResolvedVerifierOptions, type VerifierMode } from './options.js'
export { LocalKeySource, toKeyObject, type KeySource, type VerificationKey } from './key-source.js'
export { RemoteJwksKeySource, importJwks, DEFAULT_REMOTE_JWKS, type RemoteJwksOptions } from './remote-jwks.js'
export { fetchIssuerMetadata, type IssuerMetadata } from './issuer-metadata.js'
export { authenticate, decide, problemFor, bearerToken, credentialsOf, type AuthOutcome, type AuthRequest, type DecidingVerifier } from './http-problem.js'
export {
  problemForAuthError,
  problemBody,
  problemType,
  missingTokenProblem,
  missingTokenChallenge,
  AUTH_ERROR_HTTP,
  REQUEST_ERROR_HTTP,
  PROBLEM_CONTENT_TYPE,
  PROBLEM_TYPE_PREFIX,
  MISSING_TOKEN_CODE,
  UNAVAILABLE_RETRY_AFTER_SECONDS,
  type AuthProblem,
  type AuthProblemCode,
  type ChallengeOptions,
  type ProblemBody,
  type ProblemEndpoint,
  type ProblemOptions,
  type RequestErrorCode,
} from './problem-details.js'
export { registerVerifierMetrics } from './prometheus.js'
