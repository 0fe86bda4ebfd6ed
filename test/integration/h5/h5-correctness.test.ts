import { randomBytes } from 'node:crypto';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { handler as createHandler } from '../../../functions/http/create-h5-order';
import { handler as getHandler } from '../../../functions/http/get-h5-order';
import { handler as notifyHandler } from '../../../functions/notify/h5-payment';
import { H5_URL_TTL_MS } from '../../../shared/h5-payment/record';
import { changedSecrets, httpEvent, lambdaContext, startFlowStack, type FlowStack } from '../../support/flow';
import { buildNotification, paidTransaction, type NotificationKeys } from '../../support/notifications';

/**
 * The correctness review's H5 findings: a renewal racing a payment, budgets with WeChat hanging, link expiry
 * counted from before the call, idempotency across an APIv3 key rotation, and the notification's binding.
 */
type Result = APIGatewayProxyStructuredResultV2;

const H5_PATH = '/v3/pay/transactions/h5';
/** Runs once, inside the next H5 order call to WeChat, before the request goes out. */
let duringNextOrderCall: (() => Promise<void>) | undefined;

let flow: FlowStack;
let keys: NotificationKeys;
let direct: { mchid: string; appid: string };

const parse = (result: Result) => JSON.parse(result.body ?? '{}') as Record<string, any>;
const create = async (body: unknown, remainingMs?: number) =>
  (await createHandler(httpEvent(body), remainingMs === undefined ? undefined : lambdaContext(remainingMs))) as Result;
const get = async (outTradeNo: string, remainingMs = 10_000) =>
  (await getHandler(httpEvent('', { pathParameters: { out_trade_no: outTradeNo } }), lambdaContext(remainingMs))) as Result;
const notify = async (n: { body: string; headers: Record<string, string> }) =>
  (await notifyHandler(httpEvent(n.body, { headers: n.headers }), lambdaContext(10_000))) as Result;
const stored = (outTradeNo: string) => flow.rt.claims.get<Record<string, any>>({ pk: `H5#${outTradeNo}`, sk: 'ORDER' });

function orderBody() {
  return {
    out_trade_no: `C${randomBytes(8).toString('hex')}`,
    description: 'correctness',
    amount: { total: 100, currency: 'CNY' },
    scene_info: { payer_client_ip: '14.23.150.211', h5_info: { type: 'iOS' } },
  };
}

beforeAll(async () => {
  flow = await startFlowStack({
    routes: { 'POST /notify/h5-payment': notifyHandler as never },
    env: { H5_QUERY_AFTER_SECONDS: '60' },
    intercept: (url, init) => {
      if (url.pathname !== H5_PATH || duringNextOrderCall === undefined) return undefined;
      const hook = duringNextOrderCall;
      duringNextOrderCall = undefined;
      return hook().then(() => fetch(url, init));
    },
  });
  direct = flow.merchant('direct');
  keys = flow.notificationKeys('direct');
});

afterAll(async () => {
  await flow?.close();
});

beforeEach(async () => {
  duringNextOrderCall = undefined;
  flow.use(flow.runtimeWith({}));
  await flow.reset();
});

describe('a renewal racing a payment', () => {
  it('leaves the order paid and answers the paid order, not a fresh link', async () => {
    const body = orderBody();
    expect((await create(body)).statusCode).toBe(201);
    flow.clock.offsetMs = 6 * 60_000; // the link expired: the same request renews it
    duringNextOrderCall = async () => {
      const paid = buildNotification(keys, {
        eventType: 'TRANSACTION.SUCCESS',
        resource: paidTransaction(direct, body.out_trade_no),
      });
      expect((await notify(paid)).statusCode).toBe(204);
    };
    const renewed = await create(body);
    expect(duringNextOrderCall).toBeUndefined(); // the notification really landed inside the renewal's call
    expect(renewed.statusCode).toBe(201);
    expect(parse(renewed).state).toBe('SUCCESS');
    expect(parse(renewed).h5_url).toBeUndefined();
    expect((await stored(body.out_trade_no))?.state).toBe('SUCCESS');
    expect(parse(await get(body.out_trade_no)).state).toBe('SUCCESS');
  });
});

describe('idempotency across key rotation', () => {
  it('renews the identical request after the merchant resets its APIv3 key', async () => {
    const body = orderBody();
    expect((await create(body)).statusCode).toBe(201);
    flow.use(flow.runtimeWith({}, { secrets: changedSecrets(flow, (secret) => ({ ...secret, apiV3Key: 'R'.repeat(32) })) }));
    flow.clock.offsetMs = 6 * 60_000;
    const renewed = await create(body);
    expect(renewed.statusCode).toBe(201);
    expect(parse(renewed).h5_url).toBeDefined();
    expect(flow.calls.filter((c) => c === `POST ${H5_PATH}`)).toHaveLength(2);
    // and a different body for the same out_trade_no is still refused
    expect(parse(await create({ ...body, amount: { total: 101, currency: 'CNY' } })).code).toBe('OUT_TRADE_NO_USED');
  });

  it('still recognises the request after the fingerprint key itself rotates, while the old key is kept', async () => {
    const body = orderBody();
    expect((await create(body)).statusCode).toBe(201);
    flow.use(
      flow.runtimeWith({}, { secrets: changedSecrets(flow, (secret) => ({ ...secret, fingerprintKeys: { 'fp-next': 'N'.repeat(32), ...secret.fingerprintKeys } })) }),
    );
    flow.clock.offsetMs = 6 * 60_000;
    expect((await create(body)).statusCode).toBe(201);
  });
});

describe('answers inside the budget while WeChat hangs', () => {
  it('GET answers the stored state well inside its function timeout', async () => {
    const body = orderBody();
    await create(body);
    flow.clock.offsetMs = 61_000; // old enough to be confirmed with the query API
    await flow.sandbox.faults.set({ timeout: 10, timeoutHangMs: 20_000, match: '/v3/pay/transactions/out-trade-no/' });
    const started = Date.now();
    const res = await get(body.out_trade_no, 10_000);
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(res.statusCode).toBe(200);
    expect(parse(res).state).toBe('NOTPAY');
  });

  it('a create with WeChat hanging answers 503 before its invocation ends', async () => {
    flow.use(flow.runtimeWith({ WECHATPAY_TIMEOUT_MS: '5000' }));
    await flow.sandbox.faults.set({ timeout: 10, timeoutHangMs: 20_000, match: H5_PATH });
    const started = Date.now();
    const res = await create(orderBody(), 6_000);
    expect(Date.now() - started).toBeLessThan(6_000);
    expect(res.statusCode).toBe(503);
  });

  it('counts the link lifetime from before the call, so slow retries never stretch it', async () => {
    await flow.sandbox.faults.set({ timeout: 1, timeoutHangMs: 20_000, match: H5_PATH });
    const before = flow.rt.now();
    const res = await create(orderBody());
    expect(res.statusCode).toBe(201);
    // The first attempt hung for the 2 s attempt timeout; counted from the answer, the link would outlive WeChat's.
    expect(Date.parse(parse(res).h5_url_expires_at)).toBeLessThan(before + H5_URL_TTL_MS + 1_000);
  });
});

describe('the payment notification is bound to our order', () => {
  const cases: [string, (tx: ReturnType<typeof paidTransaction>) => unknown][] = [
    ['another merchant', (tx) => ({ ...tx, mchid: '1900009999' })],
    ['another app', (tx) => ({ ...tx, appid: 'wx0000000000000000' })],
    ['no amount.total', (tx) => ({ ...tx, amount: { ...tx.amount, total: undefined } })],
    ['another currency', (tx) => ({ ...tx, amount: { ...tx.amount, currency: 'USD' } })],
    ['no currency', (tx) => ({ ...tx, amount: { ...tx.amount, currency: undefined } })],
    ['a payer total above the total', (tx) => ({ ...tx, amount: { ...tx.amount, payer_total: 101 } })],
    ['no payer total', (tx) => ({ ...tx, amount: { ...tx.amount, payer_total: undefined } })],
  ];
  it.each(cases)('flags and does not apply a notification with %s; the genuine one then applies', async (_name, change) => {
    const body = orderBody();
    await create(body);
    const bad = buildNotification(keys, { eventType: 'TRANSACTION.SUCCESS', resource: change(paidTransaction(direct, body.out_trade_no)) });
    expect((await notify(bad)).statusCode).toBe(204);
    expect((await stored(body.out_trade_no))?.state).toBe('NOTPAY');
    const genuine = buildNotification(keys, { eventType: 'TRANSACTION.SUCCESS', resource: paidTransaction(direct, body.out_trade_no) });
    expect((await notify(genuine)).statusCode).toBe(204);
    expect((await stored(body.out_trade_no))?.state).toBe('SUCCESS');
  });

  it('accepts a payer total below the total (a coupon paid the rest)', async () => {
    const body = orderBody();
    await create(body);
    const tx = paidTransaction(direct, body.out_trade_no);
    const coupon = buildNotification(keys, { eventType: 'TRANSACTION.SUCCESS', resource: { ...tx, amount: { ...tx.amount, payer_total: 80 } } });
    expect((await notify(coupon)).statusCode).toBe(204);
    expect(await stored(body.out_trade_no)).toMatchObject({ state: 'SUCCESS', payer_total: 80 });
  });

  it('applies one event id once: a copy is a duplicate, not a second change', async () => {
    const body = orderBody();
    await create(body);
    const n = buildNotification(keys, { eventType: 'TRANSACTION.SUCCESS', resource: paidTransaction(direct, body.out_trade_no) });
    expect((await notify(n)).statusCode).toBe(204);
    const first = await stored(body.out_trade_no);
    expect((await notify(n)).statusCode).toBe(204);
    expect(await stored(body.out_trade_no)).toEqual(first);
  });
});
