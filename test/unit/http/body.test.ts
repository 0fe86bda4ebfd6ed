import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { allowedContext } from '../../../shared/auth/verdict';
import { RequestValidationError, isJsonContentType, jsonBody, parseJson, validate } from '../../../shared/http/validation';
import { createH5OrderSchema } from '../../../shared/h5-payment/schema';
import { createContractOrderSchema } from '../../../shared/contract-order/schema';
import { createRepaymentContractSchema } from '../../../shared/repayment-contract/schema';
import { handler as createContractOrder } from '../../../functions/http/create-contract-order';
import { handler as createH5Order } from '../../../functions/http/create-h5-order';
import { handler as createRepaymentContract } from '../../../functions/http/create-repayment-contract';

type Handler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;
const CREATE: Array<[string, Handler]> = [
  ['POST /h5-orders', createH5Order as Handler],
  ['POST /contract-orders', createContractOrder as Handler],
  ['POST /repayment-contracts', createRepaymentContract as Handler],
];

function event(body: Buffer | string, headers: Record<string, string> = { 'content-type': 'application/json' }, base64 = true): APIGatewayProxyEventV2 {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return {
    headers,
    body: base64 ? bytes.toString('base64') : bytes.toString('latin1'),
    isBase64Encoded: base64,
    requestContext: { authorizer: { lambda: allowedContext('c', 'payments:write contracts:write') } },
  } as unknown as APIGatewayProxyEventV2;
}

function problems(run: () => unknown) {
  try {
    run();
  } catch (error) {
    if (error instanceof RequestValidationError) return error.problems;
    throw error;
  }
  throw new Error('expected a validation error');
}

const h5 = () => ({
  out_trade_no: 'T20261123001',
  description: 'x',
  amount: { total: 1 },
  scene_info: { payer_client_ip: '1.2.3.4', h5_info: { type: 'Wap' } },
});
const contractOrder = () => ({
  out_trade_no: 'C1',
  body: 'b',
  total_fee: 1,
  spbill_create_ip: '1.2.3.4',
  trade_type: 'APP',
  plan_id: 1,
  contract_code: 'CC1',
  request_serial: 1,
  contract_display_account: 'a',
});
const repayment = () => ({
  plan_id: 'P1',
  out_contract_code: 'OC1',
  repayment_amount_limit: '100',
  real_identity: { identity_type: 'REAL_IDENTITY_TYPE_ID_CARD', identity_id: '11010519491231002X', real_name: '司马相如' },
  trade_info: { out_trade_no: 'T1', deduct_amount: '100' },
});

describe('the request body, before any use case runs', () => {
  it.each(CREATE)('%s: a body that is not application/json → 415 problem+json', async (_route, handler) => {
    for (const headers of [{} as Record<string, string>, { 'content-type': 'text/plain' }, { 'content-type': 'application/x-www-form-urlencoded' }, { 'content-type': 'application/json; charset=gbk' }]) {
      const result = await handler(event('{}', headers));
      expect(result.statusCode).toBe(415);
      expect((result.headers as Record<string, string>)['content-type']).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(result.body!)).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
    }
  });

  it.each(CREATE)('%s: invalid UTF-8 (base64 from API Gateway) → 400, never U+FFFD passed on', async (_route, handler) => {
    const bytes = Buffer.concat([Buffer.from('{"out_trade_no":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')]);
    const result = await handler(event(bytes));
    expect(result.statusCode).toBe(400);
    expect(JSON.parse(result.body!)).toMatchObject({ code: 'INVALID_REQUEST', errors: [{ field: 'body', message: 'must be UTF-8 text' }] });
  });

  it.each(CREATE)('%s: a JSON array → "body must be an object", not fields "0" and "1"', async (_route, handler) => {
    const result = await handler(event('[1, 2]'));
    expect(result.statusCode).toBe(400);
    expect(JSON.parse(result.body!).errors).toEqual([{ field: 'body', message: 'must be an object' }]);
  });

  it('NUL characters, raw or escaped, and lone surrogates → 400 naming the field', () => {
    expect(problems(() => parseJson(Buffer.from('{"a":"x\u0000y"}')))).toEqual([{ field: 'body', message: 'must not contain NUL characters' }]);
    const escaped = (json: string) => problems(() => validate(v.looseObject({}), parseJson(json)));
    expect(escaped('{"description":"x\\u0000y"}')).toEqual([{ field: 'description', message: 'must not contain NUL characters' }]);
    expect(escaped('{"a":{"b":["ok","\\ud800"]}}')).toEqual([{ field: 'a.b.1', message: 'must be valid Unicode text (no lone surrogates)' }]);
    // next to the schema's own problems, on a real schema
    expect(problems(() => validate(createH5OrderSchema, { ...h5(), description: 'x\u0000y', mchid: '1' }))).toEqual([
      { field: 'mchid', message: 'is set by the service and must not be sent' },
      { field: 'description', message: 'must not contain NUL characters' },
    ]);
    expect(parseJson('{"name":"司马相如 😀"}')).toEqual({ name: '司马相如 😀' });
  });

  it('accepts application/json with or without charset=utf-8, in any case', () => {
    for (const value of ['application/json', 'Application/JSON; charset=UTF-8', 'application/json;charset="utf-8"']) expect(isJsonContentType(value)).toBe(true);
    for (const value of [undefined, '', 'application/jsonp', 'application/json; charset=latin1', 'text/json']) expect(isJsonContentType(value)).toBe(false);
    expect(jsonBody({ headers: { 'Content-Type': 'application/json' }, body: '{"a":1}', isBase64Encoded: false })).toEqual({ a: 1 });
  });
});

describe('rules checked by us, not left to WeChat', () => {
  it('scene_info.h5_info.type must be Wap, iOS or Android', () => {
    for (const type of ['Wap', 'iOS', 'Android']) expect(() => validate(createH5OrderSchema, { ...h5(), scene_info: { payer_client_ip: '1.2.3.4', h5_info: { type } } })).not.toThrow();
    const found = problems(() => validate(createH5OrderSchema, { ...h5(), scene_info: { payer_client_ip: '1.2.3.4', h5_info: { type: 'web' } } }));
    expect(found).toEqual([{ field: 'scene_info.h5_info.type', message: 'must be one of Wap, iOS, Android' }]);
  });

  it('amounts have an upper bound: amount.total, goods prices, total_fee, deduct_amount, repayment_amount_limit', () => {
    const over = 2_147_483_648;
    expect(() => validate(createH5OrderSchema, { ...h5(), amount: { total: 2_147_483_647 } })).not.toThrow();
    expect(problems(() => validate(createH5OrderSchema, { ...h5(), amount: { total: over } }))).toEqual([
      { field: 'amount.total', message: 'must be at most 2147483647 fen' },
    ]);
    expect(problems(() => validate(createH5OrderSchema, { ...h5(), detail: { cost_price: over } })).map((p) => p.field)).toEqual(['detail.cost_price']);
    expect(problems(() => validate(createContractOrderSchema, { ...contractOrder(), total_fee: over }))).toEqual([
      { field: 'total_fee', message: 'must be at most 2147483647 fen' },
    ]);
    expect(problems(() => validate(createContractOrderSchema, { ...contractOrder(), plan_id: over })).map((p) => p.field)).toEqual(['plan_id']);
    const limit = problems(() =>
      validate(createRepaymentContractSchema, { ...repayment(), repayment_amount_limit: String(over), trade_info: { out_trade_no: 'T1', deduct_amount: String(over) } }),
    );
    expect(limit.map((p) => p.field).sort()).toEqual(['repayment_amount_limit', 'trade_info.deduct_amount']);
    expect(limit.every((p) => p.message === 'must be at most 2147483647 fen')).toBe(true);
  });

  it('messages are ours: no valibot default text on any schema', () => {
    const inputs: Array<[v.GenericSchema, unknown]> = [
      [createH5OrderSchema, {}],
      [createH5OrderSchema, { ...h5(), amount: 5, scene_info: { payer_client_ip: 1, h5_info: [] }, detail: { goods_detail: {} }, settle_info: 'x' }],
      [createH5OrderSchema, { ...h5(), amount: {}, scene_info: {} }],
      [createContractOrderSchema, {}],
      [createContractOrderSchema, { ...contractOrder(), trade_type: 5, limit_pay: 1, request_serial: [] }],
      [createRepaymentContractSchema, {}],
      [createRepaymentContractSchema, { ...repayment(), real_identity: 'x', trade_info: [], jump_info: 1 }],
    ];
    for (const [schema, input] of inputs) {
      const found = problems(() => validate(schema, input));
      expect(found.length).toBeGreaterThan(0);
      for (const p of found) {
        expect(p.message, `${p.field}: ${p.message}`).not.toMatch(/Invalid |Expected|[Rr]eceived/);
      }
    }
    expect(problems(() => validate(createH5OrderSchema, {}))).toContainEqual({ field: 'description', message: 'is required' });
    expect(problems(() => validate(createH5OrderSchema, { ...h5(), amount: 5 }))).toContainEqual({ field: 'amount', message: 'must be an object' });
  });
});
