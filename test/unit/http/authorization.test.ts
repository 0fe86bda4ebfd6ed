import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { allowedContext, refusedContext, type AuthorizerContext } from '../../../shared/auth/verdict';
import { ROUTE_SCOPES } from '../../../shared/auth/scopes';
import { httpHandler } from '../../../shared/http/handler';
import { json } from '../../../shared/http/responses';
import { handler as createContractOrder } from '../../../functions/http/create-contract-order';
import { handler as createH5Order } from '../../../functions/http/create-h5-order';
import { handler as createRepaymentContract } from '../../../functions/http/create-repayment-contract';
import { handler as getContractOrder } from '../../../functions/http/get-contract-order';
import { handler as getH5Order } from '../../../functions/http/get-h5-order';
import { handler as getRepaymentContract } from '../../../functions/http/get-repayment-contract';
import { handler as closeH5Order } from '../../../functions/http/close-h5-order';
import { handler as closeContractOrder } from '../../../functions/http/close-contract-order';
import { handler as createRefund } from '../../../functions/http/create-refund';
import { handler as getRefund } from '../../../functions/http/get-refund';
import { handler as getPapayContract } from '../../../functions/http/get-papay-contract';
import { handler as getPapayContractByCode } from '../../../functions/http/get-papay-contract-by-code';
import { handler as terminatePapayContract } from '../../../functions/http/terminate-papay-contract';
import { handler as createDeduction } from '../../../functions/http/create-deduction';
import { handler as sendPreDeductionNotice } from '../../../functions/http/send-pre-deduction-notice';
import { handler as getDeduction } from '../../../functions/http/get-deduction';
import { handler as closeDeduction } from '../../../functions/http/close-deduction';
import { handler as getReconciliation } from '../../../functions/http/get-reconciliation';
import { handler as terminateRepaymentContract } from '../../../functions/http/terminate-repayment-contract';
import { handler as createRepaymentSchedule } from '../../../functions/http/create-repayment-schedule';
import { handler as getRepaymentSchedule } from '../../../functions/http/get-repayment-schedule';
import { handler as createRepayment } from '../../../functions/http/create-repayment';
import { handler as getRepayment } from '../../../functions/http/get-repayment';

type Handler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

/** Every merchant route and its handler: a route added to the scope table must be added here. */
const ROUTES: Record<keyof typeof ROUTE_SCOPES, Handler> = {
  'POST /h5-orders': createH5Order as Handler,
  'GET /h5-orders/{out_trade_no}': getH5Order as Handler,
  'POST /repayment-contracts': createRepaymentContract as Handler,
  'GET /repayment-contracts/{out_contract_code}': getRepaymentContract as Handler,
  'POST /contract-orders': createContractOrder as Handler,
  'GET /contract-orders/{out_trade_no}': getContractOrder as Handler,
  'POST /h5-orders/{out_trade_no}/close': closeH5Order as Handler,
  'POST /contract-orders/{out_trade_no}/close': closeContractOrder as Handler,
  'POST /refunds': createRefund as Handler,
  'GET /refunds/{out_refund_no}': getRefund as Handler,
  'GET /papay-contracts/{contract_id}': getPapayContract as Handler,
  'GET /papay-contracts/by-code/{contract_code}': getPapayContractByCode as Handler,
  'POST /papay-contracts/{contract_id}/terminate': terminatePapayContract as Handler,
  'POST /papay-contracts/{contract_id}/pre-deduction-notice': sendPreDeductionNotice as Handler,
  'POST /deductions': createDeduction as Handler,
  'GET /deductions/{out_trade_no}': getDeduction as Handler,
  'POST /deductions/{out_trade_no}/close': closeDeduction as Handler,
  'GET /reconciliation/{date}': getReconciliation as Handler,
  'POST /repayment-contracts/{out_contract_code}/terminate': terminateRepaymentContract as Handler,
  'POST /repayment-contracts/{out_contract_code}/schedules': createRepaymentSchedule as Handler,
  'GET /repayment-contracts/{out_contract_code}/schedules/{out_record_id}': getRepaymentSchedule as Handler,
  'POST /repayment-contracts/{out_contract_code}/repayments': createRepayment as Handler,
  'GET /repayment-contracts/{out_contract_code}/repayments/{out_trade_no}': getRepayment as Handler,
};

function event(lambda: AuthorizerContext | undefined, headers: Record<string, string> = {}): APIGatewayProxyEventV2 {
  return {
    headers: { 'content-type': 'application/json', ...headers },
    body: '{}',
    isBase64Encoded: false,
    pathParameters: { out_trade_no: 'T0000001', out_contract_code: 'C0000001', out_refund_no: 'R0000001', contract_id: 'W0000001', contract_code: 'K0000001' },
    requestContext: lambda === undefined ? {} : { authorizer: { lambda } },
  } as unknown as APIGatewayProxyEventV2;
}

const body = (r: APIGatewayProxyStructuredResultV2) => JSON.parse(r.body ?? '{}') as Record<string, unknown>;
const headers = (r: APIGatewayProxyStructuredResultV2) => (r.headers ?? {}) as Record<string, string>;

describe('every merchant route answers the authorizer verdict as problem+json before doing anything', () => {
  const cases: Array<[string, AuthorizerContext | undefined, number, string]> = [
    ['no token', refusedContext('no_token'), 401, 'TOKEN_MISSING'],
    ['an expired token', refusedContext('expired'), 401, 'TOKEN_EXPIRED'],
    ['a wrong audience', refusedContext('claims', { detail: 'aud' }), 401, 'TOKEN_INVALID'],
    ['alg: none / a foreign key', refusedContext('bad_signature'), 401, 'TOKEN_INVALID'],
    ['a missing scope', refusedContext('insufficient_scope', { sub: 'c', required: 'payments:write' }), 403, 'INSUFFICIENT_SCOPE'],
    ['an unusable JWT configuration', refusedContext('config_error'), 500, 'MISCONFIGURED'],
    ['no verdict at all (a route not behind the authorizer)', undefined, 500, 'MISCONFIGURED'],
    ['an unknown verdict', { ...allowedContext('c', ''), verdict: 'maybe' } as unknown as AuthorizerContext, 500, 'MISCONFIGURED'],
    ['an allow without a subject', allowedContext('', 'payments:write'), 500, 'MISCONFIGURED'],
  ];
  for (const [route, handler] of Object.entries(ROUTES)) {
    it.each(cases)(`${route}: %s`, async (_name, lambda, status, code) => {
      const result = await handler(event(lambda));
      expect(result.statusCode).toBe(status);
      expect(headers(result)['content-type']).toMatch(/^application\/problem\+json/);
      expect(body(result)).toMatchObject({ status, code });
    });
  }

  it('names the claim, the required scope, and sets WWW-Authenticate', async () => {
    const aud = await createH5Order(event(refusedContext('claims', { detail: 'aud' })));
    expect(body(aud)).toMatchObject({ code: 'TOKEN_INVALID', claim: 'aud', detail: "the token's aud claim is not accepted" });
    expect(headers(aud)['www-authenticate']).toMatch(/^Bearer .*error="invalid_token"/);
    const scope = await createH5Order(event(refusedContext('insufficient_scope', { sub: 'c', required: 'payments:write' })));
    expect(body(scope)).toMatchObject({ code: 'INSUFFICIENT_SCOPE', required_scope: 'payments:write' });
    expect(headers(scope)['www-authenticate']).toMatch(/error="insufficient_scope", scope="payments:write"/);
    expect(headers(await createH5Order(event(refusedContext('no_token')))))
      .toMatchObject({ 'www-authenticate': 'Bearer realm="wechatpay-serverless"' });
  });

  it('refuses serverless-offline\'s authorizer-override header even with an allow verdict', async () => {
    const forged = JSON.stringify({ lambda: allowedContext('attacker', 'payments:write') });
    const result = await createH5Order(event(allowedContext('c', 'payments:write'), { 'SLS-Offline-Authorizer-Override': forged }));
    expect(result.statusCode).toBe(401);
    expect(body(result)).toMatchObject({ code: 'TOKEN_INVALID' });
  });

  it('runs the handler only on an allow verdict', async () => {
    let ran = 0;
    const wrapped = httpHandler('probe', async () => {
      ran += 1;
      return json(200, { ok: true });
    });
    expect((await wrapped(event(refusedContext('expired')))).statusCode).toBe(401);
    expect((await wrapped(event(undefined))).statusCode).toBe(500);
    expect(ran).toBe(0);
    expect((await wrapped(event(allowedContext('c', 'payments:read')))).statusCode).toBe(200);
    expect(ran).toBe(1);
  });
});
