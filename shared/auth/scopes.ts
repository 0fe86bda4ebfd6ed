/**
 * Route → required scope. The keys are HTTP API route keys exactly as declared ("METHOD /path/{param}"),
 * which is also what API Gateway (and serverless-offline) put in the authorizer event's `routeKey`.
 * A route that is not listed here is denied: adding a route means adding its scope here.
 */
export const ROUTE_SCOPES = {
  'POST /h5-orders': 'payments:write',
  'GET /h5-orders/{out_trade_no}': 'payments:read',
  'POST /repayment-contracts': 'contracts:write',
  'GET /repayment-contracts/{out_contract_code}': 'contracts:read',
  'POST /repayment-contracts/{out_contract_code}/terminate': 'contracts:write',
  'POST /repayment-contracts/{out_contract_code}/schedules': 'contracts:write',
  'GET /repayment-contracts/{out_contract_code}/schedules/{out_record_id}': 'contracts:read',
  'POST /repayment-contracts/{out_contract_code}/repayments': 'contracts:write',
  'GET /repayment-contracts/{out_contract_code}/repayments/{out_trade_no}': 'contracts:read',
  'POST /contract-orders': 'payments:write',
  'GET /contract-orders/{out_trade_no}': 'payments:read',
  'POST /h5-orders/{out_trade_no}/close': 'payments:write',
  'POST /contract-orders/{out_trade_no}/close': 'payments:write',
  'POST /refunds': 'refunds:write',
  'GET /refunds/{out_refund_no}': 'refunds:read',
  'GET /papay-contracts/{contract_id}': 'contracts:read',
  'GET /papay-contracts/by-code/{contract_code}': 'contracts:read',
  'POST /papay-contracts/{contract_id}/terminate': 'contracts:write',
  'POST /papay-contracts/{contract_id}/pre-deduction-notice': 'deductions:write',
  'POST /deductions': 'deductions:write',
  'GET /deductions/{out_trade_no}': 'deductions:read',
  'POST /deductions/{out_trade_no}/close': 'deductions:write',
  'GET /reconciliation/{date}': 'reports:read',
} as const satisfies Record<string, string>;

export type ProtectedRouteKey = keyof typeof ROUTE_SCOPES;
export type Scope = (typeof ROUTE_SCOPES)[ProtectedRouteKey];

// A Map, so that route keys such as "constructor" or "__proto__" can never hit Object.prototype.
const table: ReadonlyMap<string, Scope> = new Map(Object.entries(ROUTE_SCOPES) as [string, Scope][]);

/** The scope a route requires, or undefined when the route is unknown (and must therefore be denied). */
export function requiredScopeFor(routeKey: string | undefined | null): Scope | undefined {
  if (typeof routeKey !== 'string') return undefined;
  return table.get(routeKey);
}

export type ScopeDecision =
  | { allowed: true; required: Scope }
  | { allowed: false; reason: 'unknown_route' }
  | { allowed: false; reason: 'insufficient_scope'; required: Scope };

/** Fail-closed check of granted scopes against the route table. */
export function authorizeRoute(routeKey: string | undefined | null, granted: readonly string[]): ScopeDecision {
  const required = requiredScopeFor(routeKey);
  if (required === undefined) return { allowed: false, reason: 'unknown_route' };
  if (!granted.includes(required)) return { allowed: false, reason: 'insufficient_scope', required };
  return { allowed: true, required };
}
