import { describe, expect, it } from 'vitest';
import { authorizeRoute, requiredScopeFor, ROUTE_SCOPES } from '../../../shared/auth/scopes';

describe('route scope table', () => {
  it.each([
    ['POST /h5-orders', 'payments:write'],
    ['GET /h5-orders/{out_trade_no}', 'payments:read'],
    ['POST /repayment-contracts', 'contracts:write'],
    ['GET /repayment-contracts/{out_contract_code}', 'contracts:read'],
    ['POST /contract-orders', 'payments:write'],
    ['GET /contract-orders/{out_trade_no}', 'payments:read'],
  ])('%s requires %s', (route, scope) => {
    expect(requiredScopeFor(route)).toBe(scope);
    expect(authorizeRoute(route, [scope])).toEqual({ allowed: true, required: scope });
  });

  it('has exactly the sixteen protected routes', () => {
    expect(Object.keys(ROUTE_SCOPES)).toHaveLength(23);
  });

  it.each([
    'GET /h5-orders',
    'DELETE /h5-orders/{out_trade_no}',
    'post /h5-orders',
    'POST /h5-orders/',
    'GET /h5-orders/4200000001',
    'POST /notify/payments',
    '$default',
    'constructor',
    '__proto__',
    '',
  ])('denies unknown route %j (fail closed)', (route) => {
    expect(requiredScopeFor(route)).toBeUndefined();
    expect(authorizeRoute(route, Object.values(ROUTE_SCOPES))).toEqual({ allowed: false, reason: 'unknown_route' });
  });

  it('denies a missing route key', () => {
    expect(authorizeRoute(undefined, ['payments:write'])).toEqual({ allowed: false, reason: 'unknown_route' });
    expect(authorizeRoute(null, ['payments:write'])).toEqual({ allowed: false, reason: 'unknown_route' });
  });

  it('denies when the required scope is missing (no prefix or wildcard matching)', () => {
    for (const granted of [[], ['payments:read'], ['payments'], ['payments:*'], ['PAYMENTS:WRITE'], ['payments:write2']]) {
      expect(authorizeRoute('POST /h5-orders', granted)).toEqual({
        allowed: false,
        reason: 'insufficient_scope',
        required: 'payments:write',
      });
    }
  });
});
