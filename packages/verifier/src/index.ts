export { createVerifier, Verifier, type VerifierMetrics, type VerifierEvents } from './verifier.js'
export { resolveVerifierOptions, DEFAULT_VERIFIER_OPTIONS, type VerifierOptions, type ResolvedVerifierOptions, type VerifierMode } from './options.js'
export { LocalKeySource, toKeyObject, type KeySource, type VerificationKey } from './key-source.js'
export { RemoteJwksKeySource, importJwks, DEFAULT_REMOTE_JWKS, type RemoteJwksOptions } from './remote-jwks.js'
export {
  authenticate,
  decide,
  problemFor,
  missingTokenProblem,
  bearerToken,
  PROBLEM_CONTENT_TYPE,
  MISSING_TOKEN_CODE,
  type AuthProblem,
  type AuthOutcome,
} from './http-problem.js'
export { registerVerifierMetrics } from './prometheus.js'
