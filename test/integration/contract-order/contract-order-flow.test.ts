import { randomBytes } from 'node:crypto';
import { DeleteItemCommand, PutItemCommand, ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { Hash } from 'wechatpay-axios-plugin';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { handler as createHandler } from '../../../functions/http/create-contract-order';
import { handler as getHandler } from '../../../functions/http/get-contract-order';
import { handler as contractNotifyHandler } from '../../../functions/notify/contract-order-contract';
import { handler as paymentNotifyHandler } from '../../../functions/notify/contract-order-payment';
import type { Runtime } from '../../../shared/runtime/container';
import { keys } from '../../../shared/store/keys';
import { createContractOrderSchema } from '../../../shared/contract-order/schema';
import { canonicalParams, contractOrderParams } from '../../../shared/contract-order/wechat-request';
import { validate } from '../../../shared/http/validation';
import type { RunningSandbox } from '../../../sandbox/index';
import { localStack, testDynamoDbClient } from '../../support/env';
import { httpEvent, startFlowStack, type FlowStack } from '../../support/flow';
import { v2PaymentFields, v2Xml as signedV2Xml } from '../../support/notifications';
import type { ServedHandlers } from '../../support/lambda-http';

type Result = APIGatewayProxyStructuredResultV2;
type Json = Record<string, any>;

const SUCCESS_XML = '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>';
const PAYMENT_ROUTE = 'POST /notify/contract-order/payment';
const CONTRACT_ROUTE = 'POST /notify/contract-order/contract';

let flow: FlowStack;
let sandbox: RunningSandbox;
let served: ServedHandlers;
let rt: Runtime;
let dynamo: DynamoDBClient;
let direct: { mchid: string; appid: string; apiV2Key: string; planId: number };
let serial = BigInt(Date.now()) * 1000n;

const event = httpEvent;

const parse = (result: Result) => JSON.parse(result.body ?? '{}') as Json;
const create = async (body: unknown) => (await createHandler(event(body))) as Result;
const get = async (outTradeNo: string) => (await getHandler(event('', { pathParameters: { out_trade_no: outTradeNo } }))) as Result;

function orderBody(tradeType: 'JSAPI' | 'NATIVE' | 'APP' | 'MWEB' = 'APP', overrides: Json = {}): Json {
  serial += 1n;
  return {
    out_trade_no: `PAP${randomBytes(8).toString('hex')}`,
    body: 'Ipad mini 16G 白色',
    detail: '{"goods_detail":[{"goods_id":"iphone6s_16G","goods_name":"iPhone6s 16G","quantity":1,"price":888}]}',
    attach: '深圳分店',
    total_fee: 888,
    spbill_create_ip: '123.12.12.123',
    trade_type: tradeType,
    ...(tradeType === 'JSAPI' ? { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' } : {}),
    ...(tradeType === 'NATIVE' ? { product_id: '12235413214070356458058' } : {}),
    plan_id: direct.planId,
    contract_code: `C${randomBytes(10).toString('hex')}`,
    request_serial: serial.toString(),
    contract_display_account: '微信代扣',
    ...overrides,
  };
}

/** What WeChat would send: signed (independently) with this merchant's APIv2 key unless told otherwise. */
const v2Xml = (fields: Record<string, string>, key = direct.apiV2Key) => signedV2Xml(fields, key);

const notifyPayment = async (xml: string) => (await paymentNotifyHandler(event(xml, { headers: { 'content-type': 'text/xml' } }))) as Result;
const notifyContract = async (xml: string) => (await contractNotifyHandler(event(xml, { headers: { 'content-type': 'text/xml' } }))) as Result;

function contractFields(order: Json, change: 'ADD' | 'DELETE', overrides: Record<string, string> = {}): Record<string, string> {
  return {
    return_code: 'SUCCESS',
    result_code: 'SUCCESS',
    mch_id: direct.mchid,
    contract_code: String(order.contract_code),
    plan_id: String(order.plan_id),
    openid: 'onqOjjmM1tad-3ROpncN-yUfa6ua',
    change_type: change,
    operate_time: change === 'ADD' ? '2026-01-01 10:00:00' : '2026-01-02 11:00:00',
    contract_id: 'Wx15463511252015071056489715',
    contract_expired_time: '2031-01-01 10:00:00',
    request_serial: String(order.request_serial),
    ...(change === 'DELETE' ? { contract_termination_mode: '2' } : {}),
    ...overrides,
  };
}

async function act(body: Json): Promise<Response> {
  return fetch(`${sandbox.url}/sandbox/act`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function records(outTradeNo: string, contractCode: string) {
  const order = await rt.claims.get<Json>(keys.contractOrder(outTradeNo));
  const code = await rt.claims.get<Json>(keys.contractCode(contractCode));
  return { order, code };
}

async function flagged(businessKey: string): Promise<Json[]> {
  const scan = await dynamo.send(new ScanCommand({ TableName: localStack().tableName }));
  return (scan.Items ?? []).map((i) => unmarshall(i)).filter((i) => i.kind === 'UNMATCHED_EVENT' && i.business_key === businessKey);
}

/** The fingerprint the service stores for this request body (to plant a dead worker's claim). */
async function freshFingerprint(body: Json) {
  const merchant = await rt.merchants.get('direct');
  const params = contractOrderParams(validate(createContractOrderSchema, body), merchant, rt.config.publicBaseUrl);
  return merchant.fingerprint(canonicalParams(params));
}

const contractOrderCalls = () => flow.calls.filter((c) => c === 'POST /pay/contractorder');

beforeAll(async () => {
  const stack = localStack();
  flow = await startFlowStack({
    routes: { [PAYMENT_ROUTE]: paymentNotifyHandler as never, [CONTRACT_ROUTE]: contractNotifyHandler as never },
  });
  ({ sandbox, served, rt } = flow);
  dynamo = testDynamoDbClient();
  const merchant = flow.merchant('direct');
  const sandboxMerchant = stack.sandboxConfig.merchants.find((m: { mchid: string }) => m.mchid === merchant.mchid) as { planIds: string[] };
  direct = { mchid: merchant.mchid, appid: merchant.appid, apiV2Key: merchant.apiV2Key!, planId: Number(sandboxMerchant.planIds[0]) };
});

afterAll(async () => {
  await flow?.close();
  dynamo?.destroy();
});

beforeEach(() => flow.reset());

describe('POST /contract-orders → pay → both notifications → GET, for every trade type', () => {
  it.each(['JSAPI', 'NATIVE', 'APP', 'MWEB'] as const)('%s', async (tradeType) => {
    const body = orderBody(tradeType);
    const res = await create(body);
    expect(res.statusCode, res.body).toBe(201);
    const answer = parse(res);
    expect(answer).toMatchObject({ out_trade_no: body.out_trade_no, contract_code: body.contract_code, trade_type: tradeType });
    expect(answer.prepay_id).toMatch(/^wx\d{14}/);
    expect(contractOrderCalls()).toHaveLength(1);

    // What each trade type needs to open the cashier.
    if (tradeType === 'NATIVE') expect(answer.code_url).toMatch(/^weixin:\/\/wxpay\//);
    else expect(answer.code_url).toBeUndefined();
    if (tradeType === 'MWEB') {
      expect(answer.mweb_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/pay\/mweb\?/);
      expect(Date.parse(answer.mweb_url_expires_at) - Date.now()).toBeLessThanOrEqual(5 * 60_000);
    } else expect(answer.mweb_url).toBeUndefined();
    if (tradeType === 'JSAPI') {
      const { paySign, ...rest } = answer.pay_params;
      expect(rest).toMatchObject({ appId: direct.appid, package: `prepay_id=${answer.prepay_id}`, signType: 'MD5' });
      expect(paySign).toBe(Hash.sign('MD5', rest, direct.apiV2Key));
    } else if (tradeType === 'APP') {
      const { sign, ...rest } = answer.pay_params;
      expect(rest).toMatchObject({ appid: direct.appid, partnerid: direct.mchid, prepayid: answer.prepay_id, package: 'Sign=WXPay' });
      expect(sign).toBe(Hash.sign('MD5', rest, direct.apiV2Key));
    } else expect(answer.pay_params).toBeUndefined();

    // The sandbox checked every field we sent: contract_mchid/appid, our notify URLs, the sign.
    const sent = sandbox.state.listOrders().find((o: Json) => o.out_trade_no === body.out_trade_no) as Json;
    expect(sent).toMatchObject({
      kind: 'contractorder',
      mchid: direct.mchid,
      appid: direct.appid,
      notify_url: `${served.url}/notify/contract-order/payment`,
      contract_notify_url: `${served.url}/notify/contract-order/contract`,
      contract_code: body.contract_code,
      request_serial: body.request_serial,
    });

    const before = parse(await get(body.out_trade_no));
    expect(before).toMatchObject({ payment: { state: 'NOTPAY', total_fee: 888 }, contract: { state: 'PENDING', contract_code: body.contract_code } });

    const paid = await act(tradeType === 'MWEB' ? { url: answer.mweb_url, action: 'pay' } : { out_trade_no: body.out_trade_no, action: 'pay' });
    expect(paid.status).toBe(200);
    const acted = (await paid.json()) as Json;
    const { transaction_id, contract_id } = (acted.target ?? {}) as Json;
    expect(transaction_id).toBeTruthy();

    await expect
      .poll(async () => {
        const view = parse(await get(body.out_trade_no));
        return [view.payment.state, view.contract.state];
      }, { timeout: 10_000 })
      .toEqual(['SUCCESS', 'SIGNED']);
    const view = parse(await get(body.out_trade_no));
    expect(view.payment).toMatchObject({ state: 'SUCCESS', total_fee: 888, cash_fee: 888 });
    expect(view.payment.transaction_id).toMatch(/^4200\d+/);
    expect(view.payment.transaction_id).toBe(transaction_id);
    // One time format (RFC 3339, Beijing), WeChat's own time_end alongside; plan_id an integer as in the request.
    expect(view.payment.time_end).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$/);
    expect(view.payment.time_end_raw).toMatch(/^\d{14}$/);
    expect(view.payment.time_end.replace(/[-:T]/g, '').slice(0, 14)).toBe(view.payment.time_end_raw);
    expect(view.contract).toMatchObject({ state: 'SIGNED', plan_id: direct.planId });
    expect(typeof view.contract.plan_id).toBe('number');
    expect(view.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$/);
    expect(view.contract.contract_id).toMatch(/^Wx\d+/);
    expect(view.contract.contract_id).toBe(contract_id);
    expect(view.contract.signed_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$/);
    expect(JSON.stringify(view)).not.toContain('openid');

    // Both notifications were acknowledged on first delivery (the sandbox checks the exact SUCCESS XML).
    const deliveries = sandbox.notifications.list().filter((d) => d.target.startsWith(served.url) && d.ok);
    expect(deliveries.map((d) => d.event).sort()).toEqual(expect.arrayContaining(['V2.CONTRACT.ADD', 'V2.PAYMENT']));
    expect(contractOrderCalls()).toHaveLength(1);
  });
});

describe('idempotency', () => {
  it('the same request again → the stored answer (no WeChat call); a different one → 409 without calling WeChat', async () => {
    const body = orderBody('JSAPI');
    const first = parse(await create(body));
    const again = await create(JSON.parse(JSON.stringify({ ...body })));
    expect(again.statusCode).toBe(201);
    expect(again.headers?.['idempotent-replayed']).toBe('true');
    expect(parse(again)).toEqual(first);

    const changed = await create({ ...body, total_fee: 889 });
    expect(changed.statusCode).toBe(409);
    expect(parse(changed).code).toBe('OUT_TRADE_NO_USED');

    serial += 1n;
    const sameCode = await create({ ...body, out_trade_no: `PAP${randomBytes(8).toString('hex')}`, request_serial: serial.toString() });
    expect(sameCode.statusCode).toBe(409);
    expect(parse(sameCode).code).toBe('CONTRACT_CODE_USED');
    expect(contractOrderCalls()).toHaveLength(1);
  });

  it('10 concurrent identical requests → one WeChat call, one answer', async () => {
    const body = orderBody('NATIVE');
    const results = await Promise.all(Array.from({ length: 10 }, () => create(body)));
    expect(results.map((r) => r.statusCode)).toEqual(Array(10).fill(201));
    expect(new Set(results.map((r) => parse(r).prepay_id)).size).toBe(1);
    expect(new Set(results.map((r) => parse(r).code_url)).size).toBe(1);
    expect(contractOrderCalls()).toHaveLength(1);
  });

  it('concurrent different requests for one contract_code → exactly one wins, the others 409, one WeChat call', async () => {
    const code = `C${randomBytes(10).toString('hex')}`;
    const bodies = Array.from({ length: 5 }, () => orderBody('APP', { contract_code: code }));
    const results = await Promise.all(bodies.map((b) => create(b)));
    const statuses = results.map((r) => r.statusCode).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409]);
    expect(contractOrderCalls()).toHaveLength(1);
  });

  it('after 2 h the prepay_id is gone → 409 telling the caller to use new codes, without calling WeChat', async () => {
    const body = orderBody('APP');
    await create(body);
    flow.clock.offsetMs = 2 * 3600_000;
    const res = await create(body);
    expect(res.statusCode).toBe(409);
    expect(parse(res)).toMatchObject({ code: 'PREPAY_EXPIRED' });
    expect(parse(res).detail).toMatch(/new out_trade_no and contract_code/);
    expect(contractOrderCalls()).toHaveLength(1);
  });

  it('an earlier time_expire shortens how long the answer is replayed', async () => {
    const expireMs = Math.floor(Date.now() / 1000) * 1000 + 30 * 60_000;
    const beijing = new Date(expireMs + 8 * 3600_000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
    const body = orderBody('APP', { time_expire: beijing });
    const first = parse(await create(body));
    expect(Date.parse(first.prepay_id_expires_at)).toBe(expireMs);
    flow.clock.offsetMs = 29 * 60_000;
    expect((await create(body)).statusCode).toBe(201);
    flow.clock.offsetMs = 31 * 60_000;
    expect(parse(await create(body)).code).toBe('PREPAY_EXPIRED');
    expect(contractOrderCalls()).toHaveLength(1);
  });

  it('MWEB: the stored answer while mweb_url is valid (5 min); then the identical request renews it, as for H5', async () => {
    const body = orderBody('MWEB');
    const first = parse(await create(body));
    flow.clock.offsetMs = 4 * 60_000;
    expect(parse(await create(body)).mweb_url).toBe(first.mweb_url);
    expect(contractOrderCalls()).toHaveLength(1);
    flow.clock.offsetMs = 5 * 60_000;
    const renewed = await create(body);
    expect(renewed.statusCode, renewed.body).toBe(201);
    expect(contractOrderCalls()).toHaveLength(2);
    expect(Date.parse(parse(renewed).mweb_url_expires_at)).toBeGreaterThan(Date.parse(first.mweb_url_expires_at) + 4 * 60_000);
    expect(parse(renewed).prepay_id).toEqual(expect.any(String));
    // Still one order at WeChat, and the contract code stays with it.
    expect(sandbox.state.listOrders().filter((o: Json) => o.out_trade_no === body.out_trade_no)).toHaveLength(1);
    expect((await records(body.out_trade_no, body.contract_code)).code?.state).toBe('PENDING');
    // Replayed again while the new link lives.
    expect(parse(await create(body)).mweb_url_expires_at).toBe(parse(renewed).mweb_url_expires_at);
    expect(contractOrderCalls()).toHaveLength(2);
  });

  it('MWEB: a renewal of a paid order answers 409 ORDERPAID, never a link', async () => {
    const body = orderBody('MWEB');
    const first = parse(await create(body));
    await sandbox.faults.set({ notifyDelayMs: 60_000 });
    expect((await act({ url: first.mweb_url, action: 'pay' })).status).toBe(200);
    sandbox.notifications.cancelAll(); // the payment notification is late: our record still says NOTPAY
    flow.clock.offsetMs = 6 * 60_000;
    const res = await create(body);
    expect(res.statusCode).toBe(409);
    expect(parse(res).code).toBe('ORDERPAID');
    expect((await records(body.out_trade_no, body.contract_code)).order?.state).toBe('NOTPAY');
  });

  it('400 naming every bad field, service-owned fields refused, nothing sent', async () => {
    const res = await create({
      ...orderBody('JSAPI'),
      openid: undefined,
      total_fee: 0,
      request_serial: '0123',
      contract_display_account: '😀',
      spbill_create_ip: '::1',
      notify_url: 'https://evil.example/',
      mch_id: '1',
      sign: 'x',
    });
    expect(res.statusCode).toBe(400);
    const fields = parse(res).errors.map((e: { field: string }) => e.field);
    for (const f of ['openid', 'total_fee', 'request_serial', 'contract_display_account', 'spbill_create_ip', 'notify_url', 'mch_id', 'sign']) {
      expect(fields).toContain(f);
    }
    expect((await createHandler(event('{nope'))).statusCode).toBe(400);
    expect(flow.calls).toHaveLength(0);
  });
});

describe('WeChat outcomes', () => {
  it('SYSTEMERROR → 503 + Retry-After; both keys stay bound to the request; the same request later succeeds', async () => {
    const body = orderBody('APP');
    await sandbox.faults.set({ systemError: 1, match: '/pay/contractorder' });
    const failed = await create(body);
    expect(failed.statusCode).toBe(503);
    expect(failed.headers?.['retry-after']).toMatch(/^\d+$/);
    const { order, code } = await records(body.out_trade_no, body.contract_code);
    expect([order?.state, code?.state]).toEqual(['UNCERTAIN', 'UNCERTAIN']);

    // Nobody else may take either key while the outcome is unknown.
    expect(parse(await create({ ...body, total_fee: 1 })).code).toBe('OUT_TRADE_NO_USED');
    serial += 1n;
    expect(parse(await create({ ...body, out_trade_no: `PAP${randomBytes(8).toString('hex')}`, request_serial: serial.toString() })).code).toBe(
      'CONTRACT_CODE_USED',
    );
    expect(contractOrderCalls()).toHaveLength(1);

    const ok = await create(body);
    expect(ok.statusCode).toBe(201);
    expect(contractOrderCalls()).toHaveLength(2);
    expect((await records(body.out_trade_no, body.contract_code)).code?.state).toBe('PENDING');
  });

  it('a timeout after WeChat acted: the identical request is re-sent and gets the order WeChat made', async () => {
    const body = orderBody('JSAPI');
    await sandbox.faults.set({ timeout: 1, timeoutMode: 'after', timeoutHangMs: 3_000, match: '/pay/contractorder' });
    let res = await create(body);
    if (res.statusCode === 503) res = await create(body);
    expect(res.statusCode, res.body).toBe(201);
    const sent = sandbox.state.listOrders().filter((o: Json) => o.out_trade_no === body.out_trade_no) as Json[];
    expect(sent).toHaveLength(1);
    expect(parse(res).prepay_id).toBe(sent[0]!.prepay_id);
  });

  it('INVALID PLAN_ID → 422 with WeChat\'s fields; nothing consumed: the corrected request reuses both keys', async () => {
    const body = orderBody('APP', { plan_id: 999_999 });
    const res = await create(body);
    expect(res.statusCode).toBe(422);
    expect(parse(res)).toMatchObject({ code: 'INVALID PLAN_ID', wechatpay: { result_code: 'FAIL', err_code: 'INVALID PLAN_ID' } });
    expect(await records(body.out_trade_no, body.contract_code)).toEqual({ order: undefined, code: undefined });
    const fixed = await create({ ...body, plan_id: direct.planId });
    expect(fixed.statusCode).toBe(201);
  });

  it('a refusal of a retried call keeps both keys: the lost first attempt may have used them', async () => {
    // The first attempt times out, the client's own retry is refused. A refusal WeChat gives a second attempt
    // may be it recognising the first one, so nothing is given back.
    const body = orderBody('APP', { plan_id: 999_999 });
    await sandbox.faults.set({ timeout: 1, timeoutMode: 'before', timeoutHangMs: 3_000, match: '/pay/contractorder' });
    const res = await create(body);
    expect(res.statusCode).toBe(422);
    expect(contractOrderCalls()).toHaveLength(2);
    const { order, code } = await records(body.out_trade_no, body.contract_code);
    expect([order?.state, code?.state]).toEqual(['REJECTED', 'REJECTED']);
    serial += 1n;
    const other = { ...body, plan_id: direct.planId, request_serial: serial.toString() };
    expect(parse(await create(other)).code).toBe('OUT_TRADE_NO_USED');
    expect(parse(await create({ ...other, out_trade_no: `PAP${randomBytes(8).toString('hex')}` })).code).toBe('CONTRACT_CODE_USED');
    expect(contractOrderCalls()).toHaveLength(2);
  });

  it('a crashed worker\'s claim taken over: a refusal keeps both keys', async () => {
    const body = orderBody('APP', { plan_id: 999_999 });
    // A worker claimed both keys and died before WeChat answered (its call may have gone out).
    const table = localStack().tableName;
    const fp = (await freshFingerprint(body)).value;
    const past = Date.now() - 60_000;
    for (const [key, extra] of [
      [keys.contractOrder(body.out_trade_no), { kind: 'CONTRACT_ORDER', out_trade_no: body.out_trade_no, state: 'CREATING' }],
      [keys.contractCode(body.contract_code), { kind: 'CONTRACT_CODE', contract_code: body.contract_code, out_trade_no: body.out_trade_no, state: 'RESERVED' }],
    ] as const) {
      await dynamo.send(
        new PutItemCommand({
          TableName: table,
          Item: marshall({ ...key, ...extra, fingerprint: fp, claim_status: 'PENDING', lease_token: 'dead', lease_until: past, created_at: past, updated_at: past }),
        }),
      );
    }
    const res = await create(body);
    expect(res.statusCode).toBe(422);
    const { order, code } = await records(body.out_trade_no, body.contract_code);
    expect([order?.state, code?.state]).toEqual(['REJECTED', 'REJECTED']);
  });

  it('CONTRACT_CODE DUPLICATION (code used outside this service) → 409; the code is burnt, the out_trade_no is not', async () => {
    const first = orderBody('APP');
    expect((await create(first)).statusCode).toBe(201);
    // Another system used this code with WeChat: our store does not know it.
    await dynamo.send(new DeleteItemCommand({ TableName: localStack().tableName, Key: marshall(keys.contractCode(first.contract_code)) }));
    const second = orderBody('APP', { contract_code: first.contract_code });
    const res = await create(second);
    expect(res.statusCode).toBe(409);
    expect(parse(res)).toMatchObject({ code: 'CONTRACT_CODE DUPLICATION', wechatpay: { err_code: 'CONTRACT_CODE DUPLICATION' } });
    expect(contractOrderCalls()).toHaveLength(2);
    // The same request again: the stored refusal, no call.
    expect(parse(await create(second)).code).toBe('CONTRACT_CODE DUPLICATION');
    expect(contractOrderCalls()).toHaveLength(2);
    const { order, code } = await records(second.out_trade_no, second.contract_code);
    expect(order).toBeUndefined();
    expect(code?.state).toBe('REJECTED');
    // The out_trade_no was not consumed: with a new code it goes through.
    const retried = await create({ ...second, contract_code: `C${randomBytes(10).toString('hex')}` });
    expect(retried.statusCode).toBe(201);
  });

  it('"201 商户订单号重复" (out_trade_no used outside this service) → 409; the order is kept refused, the code is given back', async () => {
    const first = orderBody('APP');
    expect((await create(first)).statusCode).toBe(201);
    await dynamo.send(new DeleteItemCommand({ TableName: localStack().tableName, Key: marshall(keys.contractOrder(first.out_trade_no)) }));
    const second = orderBody('APP', { out_trade_no: first.out_trade_no });
    const res = await create(second);
    expect(res.statusCode).toBe(409);
    expect(parse(res)).toMatchObject({ code: 'INVALID_REQUEST', wechatpay: { err_code: 'INVALID_REQUEST', err_code_des: '201 商户订单号重复' } });
    expect(parse(await create(second)).code).toBe('INVALID_REQUEST');
    expect(contractOrderCalls()).toHaveLength(2);
    const { order, code } = await records(second.out_trade_no, second.contract_code);
    expect(order?.state).toBe('REJECTED');
    expect(code).toBeUndefined();
    const reused = await create({ ...second, out_trade_no: `PAP${randomBytes(8).toString('hex')}` });
    expect(reused.statusCode).toBe(201);
  });
});

describe('notifications', () => {
  async function created(tradeType: 'JSAPI' | 'APP' = 'APP') {
    const body = orderBody(tradeType);
    expect((await create(body)).statusCode).toBe(201);
    return body;
  }

  it('checklist papay #13: contract notification before payment, each delivered 3 times concurrently → both states once, one contract', async () => {
    await sandbox.faults.set({ notifyOrder: 'reversed', notifyCopies: 3 });
    const body = await created();
    const earlier = sandbox.notifications.list().length;
    expect((await act({ out_trade_no: body.out_trade_no, action: 'pay' })).status).toBe(200);
    await expect
      .poll(async () => {
        const view = parse(await get(body.out_trade_no));
        return [view.payment.state, view.contract.state];
      }, { timeout: 10_000 })
      .toEqual(['SUCCESS', 'SIGNED']);
    const { order, code } = await records(body.out_trade_no, body.contract_code);
    expect([...order!.event_ids]).toHaveLength(1);
    expect([...code!.event_ids]).toHaveLength(1);
    await expect.poll(() => sandbox.notifications.list().length - earlier, { timeout: 10_000 }).toBe(6);
    const mine = sandbox.notifications.list().slice(earlier);
    expect(mine.filter((d) => d.event === 'V2.CONTRACT.ADD')).toHaveLength(3);
    expect(mine.filter((d) => d.event === 'V2.PAYMENT')).toHaveLength(3);
    expect(mine.every((d) => d.ok && d.attempt === 1)).toBe(true);
    // The contract notification really came first.
    expect(mine.find((d) => d.event === 'V2.CONTRACT.ADD')!.seq).toBeLessThan(mine.find((d) => d.event === 'V2.PAYMENT')!.seq);
  });

  it('the user terminates through WeChat → DELETE → TERMINATED with the termination facts', async () => {
    const body = await created();
    await act({ out_trade_no: body.out_trade_no, action: 'pay' });
    await expect.poll(async () => parse(await get(body.out_trade_no)).contract.state, { timeout: 10_000 }).toBe('SIGNED');
    expect((await act({ contract_code: body.contract_code, action: 'terminate' })).status).toBe(200);
    await expect.poll(async () => parse(await get(body.out_trade_no)).contract.state, { timeout: 10_000 }).toBe('TERMINATED');
    const view = parse(await get(body.out_trade_no));
    expect(view.contract).toMatchObject({ state: 'TERMINATED', contract_termination_mode: '2' });
    expect(view.contract.terminated_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$/);
    expect(view.contract.signed_at).toBeDefined();
    expect(view.payment.state).toBe('SUCCESS');
  });

  it('DELETE before ADD ends TERMINATED, and the late ADD only records the signing time', async () => {
    const body = await created();
    expect((await notifyContract(v2Xml(contractFields(body, 'DELETE')))).body).toBe(SUCCESS_XML);
    expect((await notifyContract(v2Xml(contractFields(body, 'ADD')))).body).toBe(SUCCESS_XML);
    // Redelivered late ADD: acknowledged, nothing changes.
    expect((await notifyContract(v2Xml(contractFields(body, 'ADD')))).body).toBe(SUCCESS_XML);
    const view = parse(await get(body.out_trade_no));
    expect(view.contract).toMatchObject({
      state: 'TERMINATED',
      contract_id: 'Wx15463511252015071056489715',
      // WeChat's zone-less Beijing times, in our one format.
      signed_at: '2026-01-01T10:00:00+08:00',
      terminated_at: '2026-01-02T11:00:00+08:00',
    });
    const { code } = await records(body.out_trade_no, body.contract_code);
    expect([...code!.event_ids].sort()).toEqual(['Wx15463511252015071056489715:ADD', 'Wx15463511252015071056489715:DELETE']);
  });

  it('ADD then DELETE ends TERMINATED too; a redelivered ADD cannot bring it back', async () => {
    const body = await created();
    await notifyContract(v2Xml(contractFields(body, 'ADD')));
    expect(parse(await get(body.out_trade_no)).contract.state).toBe('SIGNED');
    await notifyContract(v2Xml(contractFields(body, 'DELETE')));
    const res = await notifyContract(v2Xml(contractFields(body, 'ADD')));
    expect(res.statusCode).toBe(200);
    expect(res.headers?.['content-type']).toMatch(/^text\/xml/);
    expect(parse(await get(body.out_trade_no)).contract.state).toBe('TERMINATED');
  });

  it('50 concurrent copies of one payment notification (plain and base64) → SUCCESS once, all acknowledged', async () => {
    const body = await created('JSAPI');
    const xml = v2Xml(v2PaymentFields(direct, body));
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        paymentNotifyHandler(
          event(i % 2 ? Buffer.from(xml).toString('base64') : xml, { isBase64Encoded: i % 2 === 1, headers: { 'content-type': 'text/xml' } }),
        ) as Promise<Result>,
      ),
    );
    expect(results.map((r) => [r.statusCode, r.body])).toEqual(Array(50).fill([200, SUCCESS_XML]));
    const { order } = await records(body.out_trade_no, body.contract_code);
    expect(order?.state).toBe('SUCCESS');
    expect([...order!.event_ids]).toHaveLength(1);
  });

  it('a tampered or wrongly keyed notification → 401 FAIL, nothing changes', async () => {
    const body = await created();
    const before = await records(body.out_trade_no, body.contract_code);
    const genuine = v2Xml(v2PaymentFields(direct, body));
    const tampered = genuine.replace('<total_fee><![CDATA[888]]></total_fee>', '<total_fee><![CDATA[1]]></total_fee>');
    for (const xml of [tampered, v2Xml(v2PaymentFields(direct, body), 'x'.repeat(32))]) {
      const res = await notifyPayment(xml);
      expect(res.statusCode).toBe(401);
      expect(res.body).toContain('<return_code><![CDATA[FAIL]]></return_code>');
    }
    const forgedContract = await notifyContract(v2Xml(contractFields(body, 'DELETE'), 'y'.repeat(32)));
    expect(forgedContract.statusCode).toBe(401);
    expect(await records(body.out_trade_no, body.contract_code)).toEqual(before);
  });

  it('checklist papay #11: each v2 notification has its own URL; a genuine one at the other route is refused (4xx), never applied', async () => {
    const body = await created();
    const before = await records(body.out_trade_no, body.contract_code);
    const contractAtPaymentRoute = await notifyPayment(v2Xml(contractFields(body, 'ADD')));
    expect(contractAtPaymentRoute.statusCode).toBe(400);
    const paymentAtContractRoute = await notifyContract(v2Xml(v2PaymentFields(direct, body)));
    expect(paymentAtContractRoute.statusCode).toBe(400);
    expect(await records(body.out_trade_no, body.contract_code)).toEqual(before);
  });

  it('an XXE attempt is refused before parsing', async () => {
    const body = await created();
    const xml = `<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>${v2Xml(v2PaymentFields(direct, body)).replace('<attach>', '<attach>&x;')}`;
    const res = await notifyPayment(xml);
    expect(res.statusCode).toBe(400);
    expect(res.body).not.toContain('root:');
  });

  it('authentic but not ours: wrong amount, wrong mch_id, unknown order, unknown contract → flagged, acknowledged, nothing changes', async () => {
    const body = await created();
    const before = await records(body.out_trade_no, body.contract_code);
    const wrongFee = v2PaymentFields(direct, body, { total_fee: '1', cash_fee: '1' });
    const wrongMch = v2PaymentFields(direct, body, { mch_id: '1900009999' });
    expect((await notifyPayment(v2Xml(wrongFee))).body).toBe(SUCCESS_XML);
    expect((await notifyPayment(v2Xml(wrongMch))).body).toBe(SUCCESS_XML);
    expect((await notifyContract(v2Xml(contractFields(body, 'ADD', { plan_id: '424242' })))).body).toBe(SUCCESS_XML);
    expect(await records(body.out_trade_no, body.contract_code)).toEqual(before);
    const flags = await flagged(body.out_trade_no);
    expect(flags.map((f) => f.reason).sort()).toEqual(['differs in mchid', 'differs in total_fee']);
    expect((await flagged(body.contract_code)).map((f) => f.reason)).toEqual(['differs in plan_id']);

    const stranger = { ...body, out_trade_no: `NOPE${randomBytes(6).toString('hex')}`, contract_code: `NOPE${randomBytes(6).toString('hex')}` };
    expect((await notifyPayment(v2Xml(v2PaymentFields(direct, stranger)))).body).toBe(SUCCESS_XML);
    expect((await notifyContract(v2Xml(contractFields(stranger, 'ADD')))).body).toBe(SUCCESS_XML);
    expect((await flagged(stranger.out_trade_no)).map((f) => f.reason)).toEqual(['no such contract order']);
    expect((await flagged(stranger.contract_code)).map((f) => f.reason)).toEqual(['no such contract code']);
    expect(await rt.claims.get(keys.contractOrder(stranger.out_trade_no))).toBeUndefined();
  });

  it('a second, different payment for a paid order keeps the first and is flagged', async () => {
    const body = await created();
    const first = v2PaymentFields(direct, body);
    await notifyPayment(v2Xml(first));
    const second = v2PaymentFields(direct, body);
    expect((await notifyPayment(v2Xml(second))).body).toBe(SUCCESS_XML);
    expect(parse(await get(body.out_trade_no)).payment.transaction_id).toBe(first.transaction_id);
    expect((await flagged(body.out_trade_no)).map((f) => f.event_id)).toEqual([second.transaction_id]);
  });
});

describe('GET /contract-orders/{out_trade_no}', () => {
  it('404 for an unknown order, 400 for a malformed out_trade_no', async () => {
    expect((await get('NOPE000000')).statusCode).toBe(404);
    expect((await get('bad no!')).statusCode).toBe(400);
    expect((await get('a'.repeat(33))).statusCode).toBe(400);
  });

  const orderQueryCalls = () => flow.calls.filter((c) => c === 'POST /pay/orderquery');

  it('an unpaid order younger than H5_QUERY_AFTER_SECONDS is answered from the table, without a query', async () => {
    const body = orderBody();
    expect((await create(body)).statusCode).toBe(201);
    expect(parse(await get(body.out_trade_no)).payment.state).toBe('NOTPAY');
    flow.clock.offsetMs = 59_000;
    expect(parse(await get(body.out_trade_no)).payment.state).toBe('NOTPAY');
    expect(orderQueryCalls()).toHaveLength(0);
  });

  it('a failed query answers the stored state; a successful one is not repeated within the interval', async () => {
    const body = orderBody();
    expect((await create(body)).statusCode).toBe(201);
    flow.clock.offsetMs = 61_000;
    await sandbox.faults.set({ systemError: 1, match: '/pay/orderquery' });
    const failed = await get(body.out_trade_no);
    expect(failed.statusCode).toBe(200);
    expect(parse(failed).payment.state).toBe('NOTPAY');
    expect(orderQueryCalls()).toHaveLength(1);
    expect((await records(body.out_trade_no, body.contract_code)).order?.last_checked_at).toBeUndefined();

    // Still unpaid at WeChat: the check is recorded, and the next GETs within the interval do not ask again.
    expect(parse(await get(body.out_trade_no)).payment.state).toBe('NOTPAY');
    expect(orderQueryCalls()).toHaveLength(2);
    expect((await records(body.out_trade_no, body.contract_code)).order?.last_checked_at).toBeGreaterThan(0);
    expect(parse(await get(body.out_trade_no)).payment.state).toBe('NOTPAY');
    expect(orderQueryCalls()).toHaveLength(2);
    flow.clock.offsetMs = 122_000;
    await get(body.out_trade_no);
    expect(orderQueryCalls()).toHaveLength(3);
    expect(await flagged(body.out_trade_no)).toEqual([]);
  });

  // Last in the file: it closes the notify listener.
  it('confirms an old unpaid order with /pay/orderquery, so a lost payment notification cannot leave it unpaid', async () => {
    const body = orderBody();
    expect((await create(body)).statusCode).toBe(201);
    // The notifications go nowhere: the notify URLs point at a closed port.
    await flow.served.close();
    const paid = await act({ out_trade_no: body.out_trade_no, action: 'pay' });
    expect(paid.status).toBe(200);
    const { transaction_id } = ((await paid.json()) as Json).target as Json;
    expect(parse(await get(body.out_trade_no)).payment.state).toBe('NOTPAY');
    expect(orderQueryCalls()).toHaveLength(0);

    flow.clock.offsetMs = 61_000;
    const view = parse(await get(body.out_trade_no));
    expect(view.payment).toMatchObject({ state: 'SUCCESS', transaction_id, total_fee: 888, cash_fee: 888, bank_type: 'OTHERS' });
    expect(view.payment.time_end).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$/);
    expect(view.payment.time_end_raw).toMatch(/^\d{14}$/);
    expect(orderQueryCalls()).toHaveLength(1);
    const { order } = await records(body.out_trade_no, body.contract_code);
    expect([...(order?.event_ids ?? [])]).toEqual([`query:${transaction_id}`]);
    expect(order?.last_checked_at).toBeGreaterThan(0);

    // Paid now: no more queries; the late notification for the same transaction changes nothing and is not flagged.
    flow.clock.offsetMs = 200_000;
    expect(parse(await get(body.out_trade_no)).payment.state).toBe('SUCCESS');
    expect(orderQueryCalls()).toHaveLength(1);
    const late = v2PaymentFields(direct, body, { transaction_id });
    expect((await notifyPayment(v2Xml(late))).body).toBe(SUCCESS_XML);
    expect(parse(await get(body.out_trade_no)).payment.bank_type).toBe('OTHERS');
    expect(await flagged(body.out_trade_no)).toEqual([]);
  });
});
