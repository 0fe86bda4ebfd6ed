import { randomBytes } from 'node:crypto';
import { ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { handler as createHandler } from '../../../functions/http/create-h5-order';
import { handler as getHandler } from '../../../functions/http/get-h5-order';
import { handler as notifyHandler } from '../../../functions/notify/h5-payment';
import type { Runtime } from '../../../shared/runtime/container';
import type { RunningSandbox } from '../../../sandbox/index';
import { localStack, testDynamoDbClient } from '../../support/env';
import { httpEvent, startFlowStack, type FlowStack } from '../../support/flow';
import { buildNotification, paidTransaction, strangerKey, type NotificationKeys } from '../../support/notifications';

type Result = APIGatewayProxyStructuredResultV2;

let flow: FlowStack;
let sandbox: RunningSandbox;
let rt: Runtime;
let dynamo: DynamoDBClient;
let keys: NotificationKeys;
let direct: { mchid: string; appid: string };
const event = httpEvent;
const wechatCalls = () => flow.calls;

const parse = (result: Result) => JSON.parse(result.body ?? '{}') as Record<string, any>;
const create = async (body: unknown) => (await createHandler(event(body))) as Result;
const get = async (outTradeNo: string) => (await getHandler(event('', { pathParameters: { out_trade_no: outTradeNo } }))) as Result;
const notify = async (n: { body: string; headers: Record<string, string> }, base64 = false) =>
  (await notifyHandler(
    event(base64 ? Buffer.from(n.body).toString('base64') : n.body, { headers: n.headers, isBase64Encoded: base64 }),
  )) as Result;

function orderBody(overrides: Record<string, unknown> = {}) {
  return {
    out_trade_no: `T${randomBytes(8).toString('hex')}`,
    description: 'Image形象店-深圳腾大-QQ公仔',
    amount: { total: 100, currency: 'CNY' },
    scene_info: { payer_client_ip: '14.23.150.211', h5_info: { type: 'iOS' } },
    ...overrides,
  };
}

async function storedItem(outTradeNo: string) {
  return rt.claims.get<Record<string, any>>({ pk: `H5#${outTradeNo}`, sk: 'ORDER' });
}

beforeAll(async () => {
  flow = await startFlowStack({ routes: { 'POST /notify/h5-payment': notifyHandler as never }, env: { H5_QUERY_AFTER_SECONDS: '60' } });
  ({ sandbox, rt } = flow);
  dynamo = testDynamoDbClient();
  direct = flow.merchant('direct');
  keys = flow.notificationKeys('direct');
});

afterAll(async () => {
  await flow?.close();
  dynamo?.destroy();
});

beforeEach(() => flow.reset());

describe('POST /h5-orders', () => {
  it('creates an order through WeChat and answers 201 with a 5-minute h5_url', async () => {
    const body = orderBody();
    const res = await create(body);
    expect(res.statusCode).toBe(201);
    const order = parse(res);
    expect(order).toMatchObject({ out_trade_no: body.out_trade_no, state: 'NOTPAY', amount: { total: 100, currency: 'CNY' } });
    expect(order.h5_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    const ttl = Date.parse(order.h5_url_expires_at) - Date.now();
    expect(ttl).toBeGreaterThan(290_000);
    expect(ttl).toBeLessThanOrEqual(300_000);
    expect(wechatCalls()).toEqual(['POST /v3/pay/transactions/h5']);
  });

  it('answers the same body again from storage and refuses a different body with 409, without calling WeChat', async () => {
    const body = orderBody();
    const first = parse(await create(body));
    const again = await create(JSON.parse(JSON.stringify(body)));
    expect(again.statusCode).toBe(201);
    expect(again.headers?.['idempotent-replayed']).toBe('true');
    expect(parse(again).h5_url).toBe(first.h5_url);
    const changed = await create({ ...body, amount: { total: 101 } });
    expect(changed.statusCode).toBe(409);
    expect(parse(changed).code).toBe('OUT_TRADE_NO_USED');
    expect(wechatCalls()).toHaveLength(1);
  });

  it('makes one WeChat call for 10 concurrent identical requests', async () => {
    const body = orderBody();
    const results = await Promise.all(Array.from({ length: 10 }, () => create(body)));
    expect(results.map((r) => r.statusCode)).toEqual(Array(10).fill(201));
    expect(new Set(results.map((r) => parse(r).h5_url)).size).toBe(1);
    expect(wechatCalls()).toHaveLength(1);
  });

  it('renews an expired h5_url with the identical request bytes', async () => {
    const body = orderBody({ time_expire: new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, '+00:00') });
    await create(body);
    const sentBefore = sandbox.state.listOrders().find((o: any) => o.out_trade_no === body.out_trade_no);
    flow.clock.offsetMs = 6 * 60_000;
    const renewed = await create(body);
    expect(renewed.statusCode).toBe(201);
    expect(renewed.headers?.['idempotent-replayed']).toBeUndefined();
    expect(Date.parse(parse(renewed).h5_url_expires_at)).toBeGreaterThan(Date.now() + 6 * 60_000);
    expect(wechatCalls()).toHaveLength(2);
    // The sandbox refuses a changed body for a used out_trade_no (403), so acceptance proves identical bytes.
    expect(sandbox.state.listOrders().find((o: any) => o.out_trade_no === body.out_trade_no)).toBeDefined();
    expect(sentBefore).toBeDefined();
  });

  it('retries WeChat 500s, then answers 503 with Retry-After, and the same request later succeeds', async () => {
    const body = orderBody();
    await sandbox.faults.set({ systemError: 10, match: '/v3/pay/transactions/h5' });
    const failed = await create(body);
    expect(failed.statusCode).toBe(503);
    expect(failed.headers?.['retry-after']).toMatch(/^\d+$/);
    expect(wechatCalls().length).toBeGreaterThanOrEqual(2);
    await sandbox.faults.set({ systemError: 0, match: '' });
    const ok = await create(body);
    expect(ok.statusCode).toBe(201);
  });

  it('treats a probe-signed answer as unverified and tries again', async () => {
    const body = orderBody();
    await sandbox.faults.set({ signTest: 1, match: '/v3/pay/transactions/h5' });
    const res = await create(body);
    expect(res.statusCode).toBe(201);
    expect(wechatCalls()).toHaveLength(2);
  });

  it('fails over to the backup domain when the main one refuses connections', async () => {
    await sandbox.faults.set({ mainDown: true });
    const res = await create(orderBody());
    expect(res.statusCode).toBe(201);
  });

  it('answers 400 naming every bad field, and refuses mchid and notify_url', async () => {
    const res = await create({
      out_trade_no: 'bad no!',
      description: '',
      amount: { total: 1.5 },
      scene_info: { payer_client_ip: '999.1.1.1', h5_info: {} },
      time_expire: 'tomorrow',
      mchid: '1900000001',
      notify_url: 'https://evil.example/',
    });
    expect(res.statusCode).toBe(400);
    const fields = parse(res).errors.map((e: { field: string }) => e.field);
    for (const field of ['out_trade_no', 'description', 'amount.total', 'scene_info.payer_client_ip', 'scene_info.h5_info.type', 'time_expire', 'mchid', 'notify_url']) {
      expect(fields).toContain(field);
    }
    expect((await createHandler(event('{not json'))).statusCode).toBe(400);
    expect(wechatCalls()).toHaveLength(0);
  });
});

describe('payment notification and GET /h5-orders/{out_trade_no}', () => {
  it('pays through the sandbox page action, receives the notification, and GET shows SUCCESS', async () => {
    const body = orderBody();
    const { h5_url } = parse(await create(body));
    const act = await fetch(`${sandbox.url}/sandbox/act`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: h5_url, action: 'pay' }),
    });
    expect(act.status).toBe(200);
    await expect.poll(async () => parse(await get(body.out_trade_no)).state, { timeout: 10_000 }).toBe('SUCCESS');
    const order = parse(await get(body.out_trade_no));
    expect(order.transaction_id).toMatch(/\d+/);
    expect(order.payer.openid).toBeTruthy();
    expect(order.h5_url).toBeUndefined();
    expect(flow.served.calls.filter((c) => c.route === 'POST /notify/h5-payment').every((c) => c.status === 204)).toBe(true);
  });

  it('changes state once for 50 concurrent copies of one notification, all answered 204', async () => {
    const body = orderBody();
    await create(body);
    const n = buildNotification(keys, { eventType: 'TRANSACTION.SUCCESS', resource: paidTransaction(direct, body.out_trade_no) });
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => notify(n, i % 2 === 0)));
    expect(results.map((r) => r.statusCode)).toEqual(Array(50).fill(204));
    const item = await storedItem(body.out_trade_no);
    expect(item?.state).toBe('SUCCESS');
    expect([...(item?.event_ids ?? [])]).toHaveLength(1);
  });

  it('refuses tampered and forged notifications with 401 and changes nothing', async () => {
    const body = orderBody();
    await create(body);
    const before = await storedItem(body.out_trade_no);
    const genuine = buildNotification(keys, { eventType: 'TRANSACTION.SUCCESS', resource: paidTransaction(direct, body.out_trade_no) });
    const flipped = genuine.body.replace('"summary":"test"', '"summary":"tesu"');
    const cases = {
      flippedByte: { body: flipped, headers: genuine.headers },
      wrongKey: buildNotification({ ...keys, privateKeyPem: strangerKey() }, { eventType: 'TRANSACTION.SUCCESS', resource: paidTransaction(direct, body.out_trade_no) }),
      stale: buildNotification(keys, { eventType: 'TRANSACTION.SUCCESS', resource: paidTransaction(direct, body.out_trade_no), timestamp: Math.floor(Date.now() / 1000) - 301 }),
      probe: { body: genuine.body, headers: { ...genuine.headers, 'wechatpay-signature': `WECHATPAY/SIGNTEST/${genuine.headers['wechatpay-signature']}` } },
      unknownSerial: buildNotification({ ...keys, serial: 'PUB_KEY_ID_0000000000000000000000000000' }, { eventType: 'TRANSACTION.SUCCESS', resource: paidTransaction(direct, body.out_trade_no) }),
      wrongApiV3Key: buildNotification({ ...keys, apiV3Key: 'x'.repeat(32) }, { eventType: 'TRANSACTION.SUCCESS', resource: paidTransaction(direct, body.out_trade_no) }),
    };
    for (const [name, n] of Object.entries(cases)) {
      const res = await notify(n);
      expect(res.statusCode, name).toBe(401);
      expect(parse(res).code, name).toBe('FAIL');
    }
    const after = await storedItem(body.out_trade_no);
    expect(after).toEqual(before);
  });

  it('stores and flags an authentic notification for an order we do not know, and one whose amount differs', async () => {
    const unknownNo = `U${randomBytes(8).toString('hex')}`;
    const res = await notify(buildNotification(keys, { eventType: 'TRANSACTION.SUCCESS', resource: paidTransaction(direct, unknownNo) }));
    expect(res.statusCode).toBe(204);
    const body = orderBody();
    await create(body);
    const wrongAmount = await notify(buildNotification(keys, { eventType: 'TRANSACTION.SUCCESS', resource: paidTransaction(direct, body.out_trade_no, 1) }));
    expect(wrongAmount.statusCode).toBe(204);
    expect((await storedItem(body.out_trade_no))?.state).toBe('NOTPAY');
    const scan = await dynamo.send(new ScanCommand({ TableName: localStack().tableName }));
    const flagged = (scan.Items ?? []).map((i) => unmarshall(i)).filter((i) => i.kind === 'UNMATCHED_EVENT');
    expect(flagged.map((i) => i.business_key)).toEqual(expect.arrayContaining([unknownNo, body.out_trade_no]));
  });

  it('confirms an old unpaid order with the query API, so a lost notification cannot leave it unpaid', async () => {
    const body = orderBody();
    const { h5_url } = parse(await create(body));
    // The notification goes nowhere: this order's notify URL points at a closed port.
    await flow.served.close();
    await fetch(`${sandbox.url}/sandbox/act`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: h5_url, action: 'pay' }),
    });
    expect(parse(await get(body.out_trade_no)).state).toBe('NOTPAY');
    flow.clock.offsetMs = 61_000;
    const order = parse(await get(body.out_trade_no));
    expect(order.state).toBe('SUCCESS');
    expect(wechatCalls()).toContain(`GET /v3/pay/transactions/out-trade-no/${body.out_trade_no}`);
  });

  it('answers 404 for an unknown order and 400 for a malformed out_trade_no', async () => {
    expect((await get('NOPE000000')).statusCode).toBe(404);
    expect((await get('bad!')).statusCode).toBe(400);
  });
});
