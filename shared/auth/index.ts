export { AuthConfigError, tokenVerifierConfigFromEnv } from './config';
export { authorizeRoute, requiredScopeFor, ROUTE_SCOPES } from './scopes';
export { allowedContext, refusalFor, refusedContext } from './verdict';
export type { AuthorizerContext, AuthProblemCode, AuthRefusal } from './verdict';
export type { ProtectedRouteKey, Scope, ScopeDecision } from './scopes';
export {
  createTokenVerifier,
  scopesOf,
  SUPPORTED_ALGORITHMS,
  TokenError,
  TokenVerifierConfigError,
} from './verifier';
export type {
  JwksOptions,
  SupportedAlgorithm,
  TokenErrorReason,
  TokenVerifier,
  TokenVerifierOptions,
  VerifiedToken,
} from './verifier';
