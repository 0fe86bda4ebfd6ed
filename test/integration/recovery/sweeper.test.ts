import { randomBytes } from 'node:crypto';
import { ScanCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { handler as createContractOrder } from '../../../functions/http/create-contract-order';
import { handler as getContractOrder } from '../../../functions/http/get-contract-order';
import { handler as createDeductionHandler } from '../../../functions/http/create-deduction';
import { handler as createH5 } from '../../../functions/http/create-h5-order';
import { handler as createRefundHandler } from '../../../functions/http/create-refund';
import { handler as createRepaymentContract } from '../../../functions/http/create-repayment-contract';
import { handler as createRepaymentSchedule } from '../../../functions/http/create-repayment-schedule';
import { handler as createRepayment } from '../../../functions/http/create-repayment';
import { handler as notifyRepaymentContract } from '../../../functions/notify/repayment-contract';
import { handler as notifyRepayment } from '../../../functions/notify/repayment';
import { handler as notifyContract } from '../../../functions/notify/contract-order-contract';
import { handler as notifyPayment } from '../../../functions/notify/contract-order-payment';
import { handler as notifyDeduction } from '../../../functions/notify/deduction';
import { handler as notifyH5 } from '../../../functions/notify/h5-payment';
import { handler as notifyRefund } from '../../../functions/notify/refund';
import type { RunningSandbox } from '../../../sandbox/index';
import { ensureTable } from '../../../scripts/local/dynamodb';
import { RECOVERERS } from '../../../shared/recovery/recoverers';
import { sweep } from '../../../shared/recovery/sweeper';
import { withInvocation } from '../../../shared/runtime/invocation';
import { keys } from '../../../shared/store/keys';
import { localStack, testDynamoDbClient } from '../../support/env';
import { eventually } from '../../support/eventually';
import { httpEvent, lambdaContext, startFlowStack, type FlowStack } from '../../support/flow';
import { buildNotification } from '../../support/notifications';

/**
 * The recovery sweeper (checklist G7, papay #25) against the sandbox, on a table of its own (so no other test's
 * pending records are swept): lost notifications are found by one sweep, with no GET; an expired unpaid order is
 * closed at WeChat and here; a sweep racing the late notification (or another sweep) changes state once.
 */
type Result = APIGatewayProxyStructuredResultV2;
type Json = Record<string, any>;

let flow: FlowStack;
let sandbox: RunningSandbox;
let planId: number;
let serial = BigInt(Date.now()) * 1000n;
/** The sandbox's business time stands at 10:00 Beijing (the deduction window); ours moves there for deductions. */
let baseOffsetMs = 0;
let tableName: string;
const QUERY_AFTER_MS = 60_000;

const parse = (r: Result) => JSON.parse(r.body ?? '{}') as Json;
const uniq = (prefix: string) => `${prefix}${randomBytes(8).toString('hex')}`;
const call = async (handler: unknown, body: unknown, extra: Json = {}) =>
  (await (handler as (e: unknown, c: unknown) => Promise<Result>)(httpEvent(body, extra), lambdaContext(29_000))) as Result;
const stored = (key: { pk: string; sk: string }) => flow.rt.claims.get<Json>(key);
/** Moves business time past the first look of everything created so far. */
const later = (ms = QUERY_AFTER_MS + 1_000) => {
  flow.clock.offsetMs += ms;
};

async function h5Order(over: Json = {}): Promise<{ outTradeNo: string; url: string }> {
  const outTradeNo = uniq('SWH5');
  const created = await call(createH5, {
    out_trade_no: outTradeNo,
    description: 'sweeper',
    amount: { total: 500, currency: 'CNY' },
    scene_info: { payer_client_ip: '14.23.150.211', h5_info: { type: 'iOS' } },
    ...over,
  });
  expect(created.statusCode, created.body).toBe(201);
  return { outTradeNo, url: parse(created).h5_url };
}

async function paidH5Order(): Promise<string> {
  const { outTradeNo, url } = await h5Order();
  expect((await flow.act({ url, action: 'pay' })).status).toBe(200);
  const state = await eventually(async () => (await stored(keys.h5Order(outTradeNo)))?.state, (s) => s === 'SUCCESS');
  expect(state, JSON.stringify(sandbox.notifications.list().slice(-2))).toBe('SUCCESS');
  return outTradeNo;
}

async function signedContract(): Promise<string> {
  serial += 1n;
  const outTradeNo = uniq('SWPAP');
  const created = await call(createContractOrder, {
    out_trade_no: outTradeNo,
    body: '会员月卡',
    total_fee: 1,
    spbill_create_ip: '123.12.12.123',
    trade_type: 'APP',
    plan_id: planId,
    contract_code: uniq('K'),
    request_serial: serial.toString(),
    contract_display_account: '代扣用户',
  });
  expect(created.statusCode, created.body).toBe(201);
  expect((await flow.act({ out_trade_no: outTradeNo, action: 'pay' })).status).toBe(200);
  const view = await eventually(
    async () => parse(await call(getContractOrder, '', { pathParameters: { out_trade_no: outTradeNo } })),
    (v) => v.contract?.state === 'SIGNED',
  );
  return view.contract.contract_id as string;
}

beforeAll(async () => {
  tableName = `recovery-${randomBytes(4).toString('hex')}`;
  const dynamo = testDynamoDbClient();
  await ensureTable(dynamo, tableName);
  dynamo.destroy();
  flow = await startFlowStack({
    tableName,
    routes: {
      'POST /notify/h5-payment': notifyH5 as never,
      'POST /notify/refund': notifyRefund as never,
      'POST /notify/deduction': notifyDeduction as never,
      'POST /notify/contract-order/payment': notifyPayment as never,
      'POST /notify/contract-order/contract': notifyContract as never,
      'POST /notify/repayment-contract': notifyRepaymentContract as never,
      'POST /notify/repayment': notifyRepayment as never,
    },
    env: { H5_QUERY_AFTER_SECONDS: '60', REFUND_QUERY_AFTER_SECONDS: '60', REFUND_MIN_INTERVAL_SECONDS: '0' },
  });
  flow.use(flow.rt);
  ({ sandbox } = flow);
  const m = flow.merchant('direct');
  planId = Number((localStack().sandboxConfig.merchants.find((x: { mchid: string }) => x.mchid === m.mchid) as { planIds: string[] }).planIds[0]);
  const now = Date.now();
  const tenBeijing = new Date(now);
  tenBeijing.setUTCHours(2, 0, 0, 0);
  if (tenBeijing.getTime() <= now) tenBeijing.setUTCDate(tenBeijing.getUTCDate() + 1);
  baseOffsetMs = tenBeijing.getTime() - now;
  await fetch(`${sandbox.url}/sandbox/time`, { method: 'POST', body: JSON.stringify({ advance_seconds: baseOffsetMs / 1000 }) });
});
afterAll(async () => {
  await flow?.close();
});
beforeEach(async () => {
  await flow.reset();
  // v3 notifications are signed with real time (300 s window): business time moves only where a test needs it.
  flow.clock.offsetMs = 0;
  // What earlier tests left pending (unpaid orders) is not this test's business: out of the index (a test may Scan).
  const items = await flow.rt.dynamo.send(new ScanCommand({ TableName: tableName, FilterExpression: 'attribute_exists(pending_pk)' }));
  for (const item of items.Items ?? []) {
    await flow.rt.dynamo.send(new UpdateItemCommand({ TableName: tableName, Key: { pk: item['pk']!, sk: item['sk']! }, UpdateExpression: 'REMOVE pending_pk, pending_at' }));
  }
});

describe('recovery sweeper: a lost notification is found by one sweep, without any GET (G7)', () => {
  it('H5 payment: SUCCESS, out of the pending index', async () => {
    const { outTradeNo, url } = await h5Order();
    expect((await stored(keys.h5Order(outTradeNo)))!.pending_pk).toBe('PENDING#H5');
    await sandbox.faults.set({ notifyDrop: 1 });
    expect((await flow.act({ url, action: 'pay' })).status).toBe(200);
    await sleep(100);
    expect((await stored(keys.h5Order(outTradeNo)))!.state).toBe('NOTPAY'); // the notification is gone
    flow.calls.length = 0;

    const young = await sweep(flow.rt, RECOVERERS);
    expect(young.looked).toBe(0); // not due before its first look
    later();
    const report = await sweep(flow.rt, RECOVERERS);
    expect(report).toMatchObject({ looked: 1, settled: 1 });
    const record = (await stored(keys.h5Order(outTradeNo)))!;
    expect(record.state).toBe('SUCCESS');
    expect(record.transaction_id).toMatch(/^\d+$/);
    expect(record.pending_pk).toBeUndefined();
    expect(record.pending_at).toBeUndefined();
    expect(flow.calls).toEqual([`GET /v3/pay/transactions/out-trade-no/${outTradeNo}`]);
    expect((await sweep(flow.rt, RECOVERERS)).looked).toBe(0);
  });

  it('refund: PROCESSING → SUCCESS', async () => {
    const outTradeNo = await paidH5Order();
    await sandbox.faults.set({ refundOutcome: 'manual' });
    const body = { out_trade_no: outTradeNo, out_refund_no: uniq('SWRF'), amount: { refund: 100 } };
    const created = await call(createRefundHandler, body);
    expect(created.statusCode, created.body).toBe(201);
    const key = keys.refund(body.out_refund_no);
    expect((await stored(key))!).toMatchObject({ state: 'PROCESSING', pending_pk: 'PENDING#REFUND' });
    await sandbox.faults.set({ notifyDrop: 1 });
    expect((await flow.act({ out_refund_no: body.out_refund_no, action: 'refund-success' })).status).toBe(200);
    await sleep(100);
    expect((await stored(key))!.state).toBe('PROCESSING');
    flow.calls.length = 0;

    later();
    expect(await sweep(flow.rt, RECOVERERS)).toMatchObject({ looked: 1, settled: 1 });
    const record = (await stored(key))!;
    expect(record.state).toBe('SUCCESS');
    expect(record.pending_pk).toBeUndefined();
    expect(flow.calls).toEqual([`GET /v3/refund/domestic/refunds/${body.out_refund_no}`]);
  });

  it('papay deduction: ACCEPTED → SUCCESS', async () => {
    flow.clock.offsetMs = baseOffsetMs;
    const contractId = await signedContract();
    // The paid and signed pay-and-sign order leaves the index at its first look, without a WeChat call.
    later();
    flow.calls.length = 0;
    expect(await sweep(flow.rt, RECOVERERS)).toMatchObject({ looked: 1, settled: 1 });
    expect(flow.calls).toEqual([]);
    await sandbox.faults.set({ deductionOutcome: 'manual' });
    const body = { contract_id: contractId, out_trade_no: uniq('SWDED'), total_fee: 990, body: '月卡续费' };
    const created = await call(createDeductionHandler, body);
    expect(created.statusCode, created.body).toBe(201);
    const key = keys.deduction(body.out_trade_no);
    expect((await stored(key))!).toMatchObject({ state: 'ACCEPTED', pending_pk: 'PENDING#DEDUCTION' });
    await sandbox.faults.set({ notifyDrop: 1 });
    expect((await flow.act({ out_trade_no: body.out_trade_no, action: 'deduct-success' })).status).toBe(200);
    await sleep(100);
    expect((await stored(key))!.state).toBe('ACCEPTED');
    flow.calls.length = 0;

    later();
    expect(await sweep(flow.rt, RECOVERERS)).toMatchObject({ looked: 1, settled: 1 });
    const record = (await stored(key))!;
    expect(record.state).toBe('SUCCESS');
    expect(record.pending_pk).toBeUndefined();
    expect(flow.calls).toEqual(['POST /pay/paporderquery']);
  });
});

describe('recovery sweeper: expired unpaid orders', () => {
  it('closes an order past its time_expire with the close API: CLOSED at WeChat and here', async () => {
    const businessNow = Date.now() + baseOffsetMs; // the sandbox's
    const expire = new Date(businessNow + 10 * 60_000 + 8 * 3600_000).toISOString().replace(/\.\d+Z$/, '+08:00');
    const { outTradeNo } = await h5Order({ time_expire: expire });
    later(); // due, not yet expired: queried, left pending
    expect(await sweep(flow.rt, RECOVERERS)).toMatchObject({ looked: 1, pending: 1 });
    const waiting = (await stored(keys.h5Order(outTradeNo)))!;
    expect(waiting.state).toBe('NOTPAY');
    // The next look is no later than just past the expiry.
    expect(waiting.pending_at).toBeLessThanOrEqual(Date.parse(expire) + 1_000);
    expect(flow.calls.some((c) => c.endsWith('/close'))).toBe(false);

    flow.clock.offsetMs = Date.parse(expire) - Date.now() + 2_000; // past time_expire here; WeChat's own clock has not closed it yet
    expect(await sweep(flow.rt, RECOVERERS)).toMatchObject({ looked: 1, settled: 1 });
    expect(flow.calls).toContain(`POST /v3/pay/transactions/out-trade-no/${outTradeNo}/close`);
    const record = (await stored(keys.h5Order(outTradeNo)))!;
    expect(record.state).toBe('CLOSED');
    expect(record.pending_pk).toBeUndefined();
    expect(sandbox.state.listOrders().find((o) => o.out_trade_no === outTradeNo)?.trade_state).toBe('CLOSED');
  });
});

describe('recovery sweeper: concurrency', () => {
  it('a sweep racing the late notification changes state once', async () => {
    const direct = flow.merchant('direct');
    const notificationKeys = flow.notificationKeys('direct');
    const orders: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      const { outTradeNo, url } = await h5Order();
      await sandbox.faults.set({ notifyDrop: 1 });
      expect((await flow.act({ url, action: 'pay' })).status).toBe(200);
      orders.push(outTradeNo);
    }
    later();
    // The notification WeChat would re-send late, for the same transaction the query finds.
    const late = orders.map((outTradeNo) => {
      const tx = sandbox.state.listOrders().find((o) => o.out_trade_no === outTradeNo)!;
      return buildNotification(notificationKeys, {
        timestamp: Math.floor((Date.now() + flow.clock.offsetMs) / 1000),
        eventType: 'TRANSACTION.SUCCESS',
        resource: {
          appid: direct.appid, mchid: direct.mchid, out_trade_no: outTradeNo, transaction_id: tx.transaction_id,
          trade_type: 'MWEB', trade_state: 'SUCCESS', trade_state_desc: '支付成功', bank_type: 'OTHERS',
          success_time: '2026-11-23T10:34:56+08:00', payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
          amount: { total: 500, payer_total: 500, currency: 'CNY', payer_currency: 'CNY' },
        },
      });
    });
    const [report, ...acks] = await Promise.all([
      sweep(flow.rt, RECOVERERS),
      ...late.map((n) => call(notifyH5, n.body, { headers: n.headers })),
    ]);
    for (const ack of acks) expect(ack.statusCode).toBeLessThan(300);
    expect(report.looked).toBeLessThanOrEqual(4);
    for (const outTradeNo of orders) {
      const record = (await stored(keys.h5Order(outTradeNo)))!;
      expect(record.state).toBe('SUCCESS');
      // Only the write that moved the state records its event: one, whoever won.
      expect([...(record.event_ids as Set<string>)]).toHaveLength(1);
      expect(record.pending_pk).toBeUndefined();
    }
  });

  it('two sweeps at once look at each item once (a lease per item)', async () => {
    const orders: string[] = [];
    for (let i = 0; i < 6; i += 1) {
      const { outTradeNo, url } = await h5Order();
      await sandbox.faults.set({ notifyDrop: 1 });
      expect((await flow.act({ url, action: 'pay' })).status).toBe(200);
      orders.push(outTradeNo);
    }
    later();
    const [a, b] = await Promise.all([sweep(flow.rt, RECOVERERS), sweep(flow.rt, RECOVERERS)]);
    expect(a.looked + b.looked).toBe(6);
    expect(a.settled + b.settled).toBe(6);
    expect(flow.calls.filter((c) => c.startsWith('GET /v3/pay/transactions/'))).toHaveLength(6);
    for (const outTradeNo of orders) expect((await stored(keys.h5Order(outTradeNo)))!.state).toBe('SUCCESS');
  });
});

describe('recovery sweeper: bounded work', () => {
  it('starts nothing with less than its reserve of the invocation left, and what is left is due for the next run', async () => {
    const { outTradeNo, url } = await h5Order();
    await sandbox.faults.set({ notifyDrop: 1 });
    expect((await flow.act({ url, action: 'pay' })).status).toBe(200);
    later();
    const short = await withInvocation(lambdaContext(5_000), () => sweep(flow.rt, RECOVERERS, { reserveMs: 8_000 }));
    expect(short).toMatchObject({ looked: 0, outOfTime: true });
    expect((await stored(keys.h5Order(outTradeNo)))!.state).toBe('NOTPAY');
    const next = await withInvocation(lambdaContext(60_000), () => sweep(flow.rt, RECOVERERS, { reserveMs: 8_000 }));
    expect(next).toMatchObject({ looked: 1, settled: 1, outOfTime: false });
  });

  it('spaces WeChat queries by its QPS ceiling', async () => {
    for (let i = 0; i < 5; i += 1) await h5Order();
    later();
    const started = Date.now();
    const report = await sweep(flow.rt, RECOVERERS, { maxQps: 10 });
    expect(report.looked).toBe(5);
    expect(Date.now() - started).toBeGreaterThanOrEqual(400); // 5 starts, 100 ms apart
  });
});

describe('recovery sweeper: credit-repayment presigns past their token', () => {
  const presign = async () => {
    const body = {
      plan_id: 'PLAN_REPAY_001',
      out_contract_code: uniq('SWRC').toUpperCase(),
      repayment_day: 5,
      repayment_amount_limit: '10000',
      real_identity: { identity_type: 'REAL_IDENTITY_TYPE_ID_CARD', identity_id: '510107199202283610', real_name: '岳飞' },
    };
    const created = await call(createRepaymentContract, body);
    expect(created.statusCode, created.body).toBe(201);
    expect((await stored(keys.repaymentContract(body.out_contract_code)))!.pending_pk).toBe('PENDING#REPAYMENT_CONTRACT');
    return { code: body.out_contract_code, url: parse(created).redirect_url as string };
  };

  it('a signing whose notification was lost is found SIGNED; one nobody signed ends EXPIRED', async () => {
    const signed = await presign();
    const unsigned = await presign();
    await sandbox.faults.set({ notifyDrop: 5 });
    expect((await flow.act({ url: signed.url, action: 'sign' })).status).toBe(200);
    await sleep(100);
    expect((await stored(keys.repaymentContract(signed.code)))!.state).toBe('PRESIGNED');

    later(); // not yet past the token: not due
    expect((await sweep(flow.rt, RECOVERERS)).looked).toBe(0);
    later(10 * 60_000);
    expect(await sweep(flow.rt, RECOVERERS)).toMatchObject({ looked: 2, settled: 2 });
    expect((await stored(keys.repaymentContract(signed.code)))!).toMatchObject({ state: 'SIGNED' });
    expect((await stored(keys.repaymentContract(signed.code)))!.pending_pk).toBeUndefined();
    expect((await stored(keys.repaymentContract(unsigned.code)))!).toMatchObject({ state: 'EXPIRED' });
    expect((await stored(keys.repaymentContract(unsigned.code)))!.pending_pk).toBeUndefined();
  });
});

describe('recovery sweeper: credit repayments started with deduct-orders', () => {
  it('a repayment that fails silently ends PAY_FAIL and one repaid with its notification lost ends PAY_SUCCESS, in one sweep', async () => {
    await sandbox.faults.set({ deductionOutcome: 'manual' });
    const code = uniq('SWRP').toUpperCase();
    const created = await call(createRepaymentContract, {
      plan_id: 'PLAN_REPAY_001',
      out_contract_code: code,
      repayment_day: 5,
      repayment_amount_limit: '10000',
      real_identity: { identity_type: 'REAL_IDENTITY_TYPE_ID_CARD', identity_id: '510107199202283610', real_name: '岳飞' },
      sub_mchid: '1900000109',
    });
    expect((await flow.act({ url: parse(created).redirect_url, action: 'sign' })).status).toBe(200);
    await eventually(async () => (await stored(keys.repaymentContract(code)))?.state, (s) => s === 'SIGNED');
    const path = { pathParameters: { out_contract_code: code } };
    const date = new Date(Date.now() + flow.clock.offsetMs + 8 * 3600 * 1000 + 2 * 86_400_000).toISOString().slice(0, 10);
    const numbers: string[] = [];
    for (const action of ['repay-fail', 'repay-success']) {
      const recordId = uniq('SR').toUpperCase();
      expect((await call(createRepaymentSchedule, { out_record_id: recordId, repayment_amount: '3000', repayment_date: date }, path)).statusCode).toBe(201);
      const no = uniq('RP').toUpperCase();
      expect((await call(createRepayment, { out_trade_no: no, out_record_id: recordId, deduct_amount: '3000', description: '还款' }, path)).statusCode).toBe(201);
      expect((await stored(keys.repayment(no)))!.pending_pk).toBe('PENDING#REPAYMENT');
      await sandbox.faults.set({ notifyDrop: 5 });
      expect((await flow.act({ out_trade_no: no, action })).status).toBe(200);
      numbers.push(no);
    }
    later(10 * 60_000);
    expect(await sweep(flow.rt, RECOVERERS)).toMatchObject({ looked: 2, settled: 2 });
    expect((await stored(keys.repayment(numbers[0]!)))!).toMatchObject({ state: 'PAY_FAIL' });
    expect((await stored(keys.repayment(numbers[1]!)))!).toMatchObject({ state: 'PAY_SUCCESS', pay_success_amount: '3000' });
    for (const no of numbers) expect((await stored(keys.repayment(no)))!.pending_pk).toBeUndefined();
  });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('recovery sweeper: pay-and-sign', () => {
  it('a paid order whose payment and contract notifications are both lost ends paid and SIGNED after one sweep', async () => {
    flow.clock.offsetMs = baseOffsetMs;
    serial += 1n;
    const outTradeNo = uniq('SWCO');
    const contractCode = uniq('K');
    const created = await call(createContractOrder, {
      out_trade_no: outTradeNo, body: '会员月卡', total_fee: 1, spbill_create_ip: '123.12.12.123', trade_type: 'APP',
      plan_id: planId, contract_code: contractCode, request_serial: serial.toString(), contract_display_account: '代扣用户',
    });
    expect(created.statusCode, created.body).toBe(201);
    expect((await stored(keys.contractOrder(outTradeNo)))!.pending_pk).toBe('PENDING#CONTRACT_ORDER');
    await sandbox.faults.set({ notifyDrop: 2 });
    expect((await flow.act({ out_trade_no: outTradeNo, action: 'pay' })).status).toBe(200);
    await sleep(100);
    expect((await stored(keys.contractOrder(outTradeNo)))!.state).toBe('NOTPAY');
    flow.calls.length = 0;

    later();
    expect(await sweep(flow.rt, RECOVERERS)).toMatchObject({ looked: 1, settled: 1 });
    const order = (await stored(keys.contractOrder(outTradeNo)))!;
    expect(order.state).toBe('SUCCESS');
    expect(order.pending_pk).toBeUndefined();
    expect((await stored(keys.contractCode(contractCode)))!.state).toBe('SIGNED');
    expect(flow.calls).toEqual(['POST /pay/orderquery', 'POST /papay/querycontract']);
  });

  it('a paid order whose contract WeChat cannot confirm yet stays pending, and is signed at a later look', async () => {
    flow.clock.offsetMs = baseOffsetMs;
    serial += 1n;
    const outTradeNo = uniq('SWCO');
    const contractCode = uniq('K');
    const created = await call(createContractOrder, {
      out_trade_no: outTradeNo, body: '会员月卡', total_fee: 1, spbill_create_ip: '123.12.12.123', trade_type: 'APP',
      plan_id: planId, contract_code: contractCode, request_serial: serial.toString(), contract_display_account: '代扣用户',
    });
    expect(created.statusCode, created.body).toBe(201);
    await sandbox.faults.set({ notifyDrop: 2 });
    expect((await flow.act({ out_trade_no: outTradeNo, action: 'pay' })).status).toBe(200);
    await sleep(100);
    await sandbox.faults.set({ systemError: 1, match: '/papay/querycontract' });
    later();
    expect(await sweep(flow.rt, RECOVERERS)).toMatchObject({ looked: 1, pending: 1 });
    expect((await stored(keys.contractOrder(outTradeNo)))!).toMatchObject({ state: 'SUCCESS', pending_pk: 'PENDING#CONTRACT_ORDER' });
    later(2 * 3600_000);
    expect(await sweep(flow.rt, RECOVERERS)).toMatchObject({ looked: 1, settled: 1 });
    expect((await stored(keys.contractCode(contractCode)))!.state).toBe('SIGNED');
  });
});
