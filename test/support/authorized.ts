import { allowedContext } from '../../shared/auth/verdict';

/**
 * The request context the Lambda authorizer gives a merchant route for a valid token with every scope
 * (shared/auth/verdict.ts): handlers under test run behind it, as they do behind API Gateway.
 */
export const authorizedRequestContext = () => ({
  requestId: `req-${Math.random().toString(36).slice(2)}`,
  authorizer: { lambda: allowedContext('test-client', 'payments:read payments:write contracts:read contracts:write') },
});
