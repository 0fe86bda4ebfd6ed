import { randomBytes } from 'node:crypto';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { handler as createH5 } from '../../../functions/http/create-h5-order';
import { handler as getH5 } from '../../../functions/http/get-h5-order';
import { handler as closeH5 } from '../../../functions/http/close-h5-order';
import { handler as createContractOrder } from '../../../functions/http/create-contract-order';
import { handler as getContractOrder } from '../../../functions/http/get-contract-order';
import { handler as closeContractOrder } from '../../../functions/http/close-contract-order';
import { handler as createRefundHandler } from '../../../functions/http/create-refund';
import { handler as getRefundHandler } from '../../../functions/http/get-refund';
import { handler as notifyH5 } from '../../../functions/notify/h5-payment';
import { handler as notifyPayment } from '../../../functions/notify/contract-order-payment';
import { handler as notifyContract } from '../../../functions/notify/contract-order-contract';
import { handler as notifyRefund } from '../../../functions/notify/refund';
import { handler as notifyV2Refund } from '../../../functions/notify/contract-order-refund';
import type { RunningSandbox } from '../../../sandbox/index';
import { createCa, issueMerchantCertificate } from '../../../sandbox/tls';
import { localStack } from '../../support/env';
import { eventually } from '../../support/eventually';
import { keys as localKeys } from '../../../shared/store/keys';
import { changedSecrets, httpEvent, lambdaContext, startFlowStack, type FlowStack } from '../../support/flow';

/**
 * Refunds and close end to end against the sandbox: real signatures, the sandbox's own refund ledger, its
 * notifications (v3 REFUND.*, v2 req_info) delivered to the served notify routes, and mutual TLS for APIv2 refunds.
 */
type Result = APIGatewayProxyStructuredResultV2;
type Json = Record<string, any>;

let flow: FlowStack;
let sandbox: RunningSandbox;
let planId: number;
let serial = BigInt(Date.now()) * 1000n;

const parse = (r: Result) => JSON.parse(r.body ?? '{}') as Json;
const uniq = (prefix: string) => `${prefix}${randomBytes(8).toString('hex')}`;
const call = async (handler: unknown, body: unknown, extra: Json = {}, remainingMs = 29_000) =>
  (await (handler as (e: unknown, c: unknown) => Promise<Result>)(httpEvent(body, extra), lambdaContext(remainingMs))) as Result;
const refund = (body: Json, remainingMs?: number) => call(createRefundHandler, body, {}, remainingMs);
const getRefund = async (no: string) => parse(await call(getRefundHandler, '', { pathParameters: { out_refund_no: no } }));
const sandboxRefunds = (outTradeNo: string) => sandbox.state.listRefunds().filter((r) => r.out_trade_no === outTradeNo);

async function paidH5Order(total = 1_000): Promise<string> {
  const outTradeNo = uniq('RFH5');
  const created = await call(createH5, {
    out_trade_no: outTradeNo,
    description: 'refund flow',
    amount: { total, currency: 'CNY' },
    scene_info: { payer_client_ip: '14.23.150.211', h5_info: { type: 'iOS' } },
  });
  expect(created.statusCode, created.body).toBe(201);
  expect((await flow.act({ url: parse(created).h5_url, action: 'pay' })).status).toBe(200);
  await eventually(async () => parse(await call(getH5, '', { pathParameters: { out_trade_no: outTradeNo } })).state, (s) => s === 'SUCCESS');
  return outTradeNo;
}

async function paidContractOrder(total = 888, pay = true): Promise<string> {
  serial += 1n;
  const outTradeNo = uniq('PAPRF');
  const created = await call(createContractOrder, {
    out_trade_no: outTradeNo,
    body: 'refund flow',
    total_fee: total,
    spbill_create_ip: '123.12.12.123',
    trade_type: 'APP',
    plan_id: planId,
    contract_code: uniq('C'),
    request_serial: serial.toString(),
    contract_display_account: '微信代扣',
  });
  expect(created.statusCode, created.body).toBe(201);
  if (!pay) return outTradeNo;
  expect((await flow.act({ out_trade_no: outTradeNo, action: 'pay' })).status).toBe(200);
  await eventually(
    async () => parse(await call(getContractOrder, '', { pathParameters: { out_trade_no: outTradeNo } })).payment?.state,
    (s) => s === 'SUCCESS',
  );
  return outTradeNo;
}

beforeAll(async () => {
  flow = await startFlowStack({
    routes: {
      'POST /notify/h5-payment': notifyH5 as never,
      'POST /notify/contract-order/payment': notifyPayment as never,
      'POST /notify/contract-order/contract': notifyContract as never,
      'POST /notify/refund': notifyRefund as never,
      'POST /notify/contract-order/refund': notifyV2Refund as never,
    },
    env: { REFUND_MIN_INTERVAL_SECONDS: '0', REFUND_QUERY_AFTER_SECONDS: '60' },
  });
  ({ sandbox } = flow);
  const direct = flow.merchant('direct');
  planId = Number((localStack().sandboxConfig.merchants.find((m: { mchid: string }) => m.mchid === direct.mchid) as { planIds: string[] }).planIds[0]);
});
afterAll(async () => {
  await flow?.close();
});
beforeEach(async () => {
  flow.use(flow.runtimeWith({}));
  await flow.reset();
  // Refunds settle only when a test says so (an act, or time moved with an outcome set): with timeScale 0.001 the
  // sandbox's 60 s settle timer would otherwise race the assertions.
  await sandbox.faults.set({ refundOutcome: 'manual' });
});

describe('H5 refunds (APIv3)', () => {
  it('checklist G6, papay #23: refund partly twice under new numbers, a retry reuses its number (no second call), cumulative refunds capped by the order total; both REFUND.SUCCESS notifications applied', async () => {
    const outTradeNo = await paidH5Order(1_000);
    const first = { out_trade_no: outTradeNo, out_refund_no: uniq('RF'), amount: { refund: 300 }, reason: '商品已售完' };
    const a = await refund(first);
    expect(a.statusCode, a.body).toBe(201);
    expect(parse(a)).toMatchObject({ out_refund_no: first.out_refund_no, state: 'PROCESSING', amount: { refund: 300, total: 1_000, currency: 'CNY' } });
    // The same request again: the stored answer, no second call; another body for the number: 409.
    const again = await refund(first);
    expect(again.statusCode).toBe(201);
    expect(again.headers?.['idempotent-replayed']).toBe('true');
    expect(parse(await refund({ ...first, amount: { refund: 301 } })).code).toBe('OUT_REFUND_NO_USED');
    const second = { out_trade_no: outTradeNo, out_refund_no: uniq('RF'), amount: { refund: 200 } };
    expect((await refund(second)).statusCode).toBe(201);
    expect(sandboxRefunds(outTradeNo)).toHaveLength(2);
    expect(flow.calls.filter((c) => c === 'POST /v3/refund/domestic/refunds')).toHaveLength(2);

    // Over what is left (500): refused by us before WeChat is called.
    const over = await refund({ out_trade_no: outTradeNo, out_refund_no: uniq('RF'), amount: { refund: 501 } });
    expect(over.statusCode).toBe(409);
    expect(parse(over)).toMatchObject({ code: 'REFUND_EXCEEDS_PAID', errors: [{ field: 'amount.refund' }] });
    expect(sandboxRefunds(outTradeNo)).toHaveLength(2);

    await sandbox.faults.set({ refundOutcome: 'success' });
    await fetch(`${sandbox.url}/sandbox/time`, { method: 'POST', body: JSON.stringify({ advance_seconds: 61 }) });
    for (const no of [first.out_refund_no, second.out_refund_no]) {
      const done = await eventually(() => getRefund(no), (v) => v.state === 'SUCCESS');
      expect(done).toMatchObject({ state: 'SUCCESS', refund_id: expect.any(String), success_time: expect.stringMatching(/\+08:00$/) });
    }
    const order = parse(await call(getH5, '', { pathParameters: { out_trade_no: outTradeNo } }));
    expect(order.refunded_total).toBe(500);
    expect(order.refunds.map((r: Json) => r.out_refund_no).sort()).toEqual([first.out_refund_no, second.out_refund_no].sort());
  });

  it('checklist papay #23: 50 concurrent POST /refunds of 30 % each on one order → 3 accepted, 47 × 409 REFUND_EXCEEDS_PAID, exactly 3 WeChat calls', async () => {
    const outTradeNo = await paidH5Order(10_000);
    flow.calls.length = 0;
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => refund({ out_trade_no: outTradeNo, out_refund_no: uniq('RF'), amount: { refund: 3_000 } })),
    );
    const statuses = answers.map((a) => a.statusCode);
    expect(statuses.filter((st) => st === 201)).toHaveLength(3);
    expect(statuses.filter((st) => st === 409)).toHaveLength(47);
    for (const a of answers.filter((x) => x.statusCode === 409)) {
      expect(parse(a)).toMatchObject({ code: 'REFUND_EXCEEDS_PAID', errors: [{ field: 'amount.refund', message: expect.stringContaining('1000') }] });
    }
    expect(flow.calls.filter((c) => c === 'POST /v3/refund/domestic/refunds')).toHaveLength(3);
    expect(sandboxRefunds(outTradeNo)).toHaveLength(3);
    expect((await flow.rt.claims.get(localKeys.h5Order(outTradeNo)))?.['refund_reserved']).toBe(9_000);
  });

  it('CLOSED gives the amount back and a new number may refund it; ABNORMAL is surfaced, never retried', async () => {
    const outTradeNo = await paidH5Order(1_000);
    const closing = { out_trade_no: outTradeNo, out_refund_no: uniq('RF'), amount: { refund: 1_000 } };
    expect((await refund(closing)).statusCode).toBe(201);
    expect((await flow.act({ out_refund_no: closing.out_refund_no, action: 'refund-close' })).status).toBe(200);
    await eventually(() => getRefund(closing.out_refund_no), (v) => v.state === 'CLOSED');
    const abnormal = { out_trade_no: outTradeNo, out_refund_no: uniq('RF'), amount: { refund: 1_000 } };
    expect((await refund(abnormal)).statusCode).toBe(201);
    expect((await flow.act({ out_refund_no: abnormal.out_refund_no, action: 'refund-abnormal' })).status).toBe(200);
    const view = await eventually(() => getRefund(abnormal.out_refund_no), (v) => v.state === 'ABNORMAL');
    expect(view.remedy).toContain('abnormal-refund');
    // Still reserved: nothing else can be refunded while the abnormal one may yet succeed.
    expect(parse(await refund({ out_trade_no: outTradeNo, out_refund_no: uniq('RF'), amount: { refund: 1 } })).code).toBe('REFUND_EXCEEDS_PAID');
    expect(sandboxRefunds(outTradeNo)).toHaveLength(2);
  });

  it('checklist papay #23: a lost answer keeps the amount reserved (UNCERTAIN) inside the invocation; the identical request, same out_refund_no, refunds once', async () => {
    const outTradeNo = await paidH5Order(1_000);
    await sandbox.faults.set({ timeout: 5, timeoutMode: 'before', timeoutHangMs: 20_000, match: '/v3/refund/domestic/refunds' });
    const body = { out_trade_no: outTradeNo, out_refund_no: uniq('RF'), amount: { refund: 400 } };
    const started = Date.now();
    const lost = await refund(body, 8_000);
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(lost.statusCode).toBe(201);
    expect(parse(lost).state).toBe('UNCERTAIN');
    expect(parse(await refund({ out_trade_no: outTradeNo, out_refund_no: uniq('RF'), amount: { refund: 601 } })).code).toBe('REFUND_EXCEEDS_PAID');
    await sandbox.faults.set({ timeout: 0, match: '' });
    const retried = await refund(body);
    expect(['PROCESSING', 'SUCCESS']).toContain(parse(retried).state);
    expect(sandboxRefunds(outTradeNo)).toHaveLength(1);
  });

  it('WeChat refunded but the answer was lost: its notification wins, and the retry makes no second refund', async () => {
    const outTradeNo = await paidH5Order(1_000);
    await sandbox.faults.set({ refundOutcome: 'success' }); // settles (and notifies) while our call still hangs
    await sandbox.faults.set({ timeout: 5, timeoutMode: 'after', timeoutHangMs: 20_000, match: '/v3/refund/domestic/refunds' });
    const body = { out_trade_no: outTradeNo, out_refund_no: uniq('RF'), amount: { refund: 400 } };
    const lost = await refund(body, 8_000);
    expect(lost.statusCode).toBe(201);
    await sandbox.faults.set({ timeout: 0, match: '' });
    await eventually(() => getRefund(body.out_refund_no), (v) => v.state === 'SUCCESS');
    expect(parse(await refund(body)).state).toBe('SUCCESS');
    expect(sandboxRefunds(outTradeNo)).toHaveLength(1);
  });

  it('refuses unpaid and unknown orders, and service-owned fields, naming them', async () => {
    const unpaid = uniq('RFH5');
    await call(createH5, { out_trade_no: unpaid, description: 'x', amount: { total: 100 }, scene_info: { payer_client_ip: '14.23.150.211', h5_info: { type: 'iOS' } } });
    expect(parse(await refund({ out_trade_no: unpaid, out_refund_no: uniq('RF'), amount: { refund: 1 } })).code).toBe('ORDER_NOT_PAID');
    expect((await refund({ out_trade_no: uniq('NONE'), out_refund_no: uniq('RF'), amount: { refund: 1 } })).statusCode).toBe(404);
    const bad = await refund({ out_trade_no: unpaid, out_refund_no: 'has space', amount: { refund: 0, total: 5 }, notify_url: 'https://x' });
    expect(bad.statusCode).toBe(400);
    expect(parse(bad).errors.map((e: Json) => e.field).sort()).toEqual(['amount.refund', 'amount.total', 'notify_url', 'out_refund_no']);
  });
});

describe('GET /refunds confirms with the refund query when the notification is late (checklist G7)', () => {
  it.each(['H5', 'CONTRACT_ORDER'] as const)('%s: a lost SUCCESS notification is found by the query; a hanging query answers the stored state in time', async (product) => {
    const outTradeNo = product === 'H5' ? await paidH5Order(1_000) : await paidContractOrder(888);
    const body = { out_trade_no: outTradeNo, out_refund_no: uniq('RF'), amount: { refund: 100 } };
    expect((await refund(body)).statusCode).toBe(201);
    await sandbox.faults.set({ notifyDelayMs: 60_000 });
    expect((await flow.act({ out_refund_no: body.out_refund_no, action: 'refund-success' })).status).toBe(200);
    sandbox.notifications.cancelAll(); // the refund notification is lost
    expect((await getRefund(body.out_refund_no)).state).toBe('PROCESSING'); // young: answered from the table
    flow.clock.offsetMs = 61_000;

    // WeChat hangs: the GET still answers within its function's time, with what it has.
    const queryPath = product === 'H5' ? '/v3/refund/domestic/refunds/' : '/pay/refundquery';
    await sandbox.faults.set({ timeout: 10, timeoutHangMs: 20_000, match: queryPath });
    const started = Date.now();
    const hanging = parse(await call(getRefundHandler, '', { pathParameters: { out_refund_no: body.out_refund_no } }, 10_000));
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(hanging.state).toBe('PROCESSING');

    await sandbox.faults.set({ timeout: 0, match: '' });
    flow.clock.offsetMs = 200_000; // past the re-check interval
    expect(await getRefund(body.out_refund_no)).toMatchObject({ state: 'SUCCESS', success_time: expect.stringMatching(/\+08:00$/) });
  });
});

describe('contract-order refunds (APIv2 over mutual TLS)', () => {
  it('checklist papay #24: contract-order refunds go through /secapi/pay/refund with the merchant API certificate (mutual TLS); the req_info notification completes it', async () => {
    const outTradeNo = await paidContractOrder(888);
    const body = { out_trade_no: outTradeNo, out_refund_no: uniq('RF'), amount: { refund: 300 } };
    const res = await refund(body);
    expect(res.statusCode, res.body).toBe(201);
    expect(parse(res)).toMatchObject({ state: 'PROCESSING', refund_id: expect.any(String) });
    expect(sandboxRefunds(outTradeNo)).toMatchObject([{ protocol: 'v2', out_refund_no: body.out_refund_no, refund: 300 }]);
    expect((await flow.act({ out_refund_no: body.out_refund_no, action: 'refund-success' })).status).toBe(200);
    await eventually(() => getRefund(body.out_refund_no), (v) => v.state === 'SUCCESS');
    const order = parse(await call(getContractOrder, '', { pathParameters: { out_trade_no: outTradeNo } }));
    expect(order).toMatchObject({ refunded_total: 300, refunds: [{ out_refund_no: body.out_refund_no, state: 'SUCCESS', amount: 300 }] });
  });

  it('without merchantCertificate in the secret: 422 naming the field, nothing reserved or sent', async () => {
    const outTradeNo = await paidContractOrder(888);
    flow.use(flow.runtimeWith({}, { secrets: changedSecrets(flow, ({ merchantCertificate: _c, ...secret }) => secret) }));
    const res = await refund({ out_trade_no: outTradeNo, out_refund_no: uniq('RF'), amount: { refund: 1 } });
    expect(res.statusCode).toBe(422);
    expect(parse(res)).toMatchObject({ code: 'MERCHANT_CERTIFICATE_MISSING', errors: [{ field: 'merchantCertificate' }] });
    expect(sandboxRefunds(outTradeNo)).toHaveLength(0);
  });

  it('checklist papay #24: a certificate WeChat did not issue fails the TLS handshake: nothing refunded, the amount stays reserved (UNCERTAIN)', async () => {
    const outTradeNo = await paidContractOrder(888);
    // The right key pair, but a certificate from some other CA: the server refuses the handshake.
    const foreign = createCa();
    const direct = localStack().sandboxConfig.merchants.find((m: { kind: string }) => m.kind === 'direct') as { mchid: string; serialNo: string; publicKeyPem: string };
    const forged = issueMerchantCertificate(foreign, direct.mchid, direct.serialNo, direct.publicKeyPem);
    flow.use(flow.runtimeWith({}, { secrets: changedSecrets(flow, (secret) => (secret.apiV2Key ? { ...secret, merchantCertificate: forged } : secret)) }));
    const body = { out_trade_no: outTradeNo, out_refund_no: uniq('RF'), amount: { refund: 888 } };
    const res = await refund(body);
    expect(res.statusCode).toBe(201);
    expect(parse(res).state).toBe('UNCERTAIN');
    expect(sandboxRefunds(outTradeNo)).toHaveLength(0);
    expect(parse(await refund({ ...body, out_refund_no: uniq('RF'), amount: { refund: 1 } })).code).toBe('REFUND_EXCEEDS_PAID');
    // With the real certificate again, the identical request goes through.
    flow.use(flow.runtimeWith({}));
    expect(parse(await refund(body)).state).toMatch(/PROCESSING|SUCCESS/);
    expect(sandboxRefunds(outTradeNo)).toHaveLength(1);
  });
});

describe('closing unpaid orders', () => {
  it('H5: closes with the query as proof; idempotent; a paid order answers 409 ORDER_PAID', async () => {
    const outTradeNo = uniq('CLH5');
    await call(createH5, { out_trade_no: outTradeNo, description: 'x', amount: { total: 100 }, scene_info: { payer_client_ip: '14.23.150.211', h5_info: { type: 'iOS' } } });
    const closed = await call(closeH5, '', { pathParameters: { out_trade_no: outTradeNo } });
    expect(closed.statusCode, closed.body).toBe(200);
    expect(parse(closed).state).toBe('CLOSED');
    expect((await call(closeH5, '', { pathParameters: { out_trade_no: outTradeNo } })).statusCode).toBe(200);
    const paid = await paidH5Order(100);
    const refused = await call(closeH5, '', { pathParameters: { out_trade_no: paid } });
    expect(refused.statusCode).toBe(409);
    expect(parse(refused).code).toBe('ORDER_PAID');
  });

  it('contract order: not within 5 minutes (429 with Retry-After); then closed, idempotently; paid → 409', async () => {
    const outTradeNo = await paidContractOrder(888, false);
    const early = await call(closeContractOrder, '', { pathParameters: { out_trade_no: outTradeNo } });
    expect(early.statusCode).toBe(429);
    expect(Number(early.headers?.['retry-after'])).toBeGreaterThan(200);
    flow.clock.offsetMs = 6 * 60_000;
    await fetch(`${sandbox.url}/sandbox/time`, { method: 'POST', body: JSON.stringify({ advance_seconds: 360 }) });
    const closed = await call(closeContractOrder, '', { pathParameters: { out_trade_no: outTradeNo } });
    expect(closed.statusCode, closed.body).toBe(200);
    expect(parse(closed).payment.state).toBe('CLOSED');
    expect((await call(closeContractOrder, '', { pathParameters: { out_trade_no: outTradeNo } })).statusCode).toBe(200);
    expect(sandbox.state.listOrders().find((o) => o.out_trade_no === outTradeNo)?.trade_state).toBe('CLOSED');
  });
});
