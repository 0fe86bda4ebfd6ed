import { tokenVerifierConfigFromEnv } from '../../shared/auth/config';
import { createAuthorizerHandler } from '../../shared/auth/authorizer';
import { createTokenVerifier, type TokenVerifier } from '../../shared/auth/verifier';

// One verifier per container, created on first use (not per request, not at import, so that a missing
// variable is reported by the request that needs it rather than crashing the init phase).
let verifier: TokenVerifier | undefined;
function verifierFromEnv(): TokenVerifier {
  verifier ??= createTokenVerifier(tokenVerifierConfigFromEnv());
  return verifier;
}

/** The merchant API's Lambda authorizer; how each case maps to 401/403 is described in shared/auth/authorizer.ts. */
export const handler = createAuthorizerHandler({ getVerifier: verifierFromEnv });
