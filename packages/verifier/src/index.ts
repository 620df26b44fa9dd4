export { createVerifier, Verifier, RevocationLogSilent, type VerifierMetrics, type VerifierEvents } from './verifier.js'
export { resolveVerifierOptions, DEFAULT_VERIFIER_OPTIONS, type VerifierOptions, type ResolvedVerifierOptions, type VerifierMode } from './options.js'
export { LocalKeySource, toKeyObject, type KeySource, type VerificationKey } from './key-source.js'
export { RemoteJwksKeySource, importJwks, DEFAULT_REMOTE_JWKS, type RemoteJwksOptions } from './remote-jwks.js'
export { fetchIssuerMetadata, type IssuerMetadata } from './issuer-metadata.js'
export {
  authenticate,
  decide,
  problemFor,
  missingTokenProblem,
  bearerToken,
  credentialsOf,
  PROBLEM_CONTENT_TYPE,
  MISSING_TOKEN_CODE,
  type AuthProblem,
  type AuthOutcome,
  type AuthRequest,
  type ChallengeOptions,
  type DecidingVerifier,
} from './http-problem.js'
export { registerVerifierMetrics } from './prometheus.js'
