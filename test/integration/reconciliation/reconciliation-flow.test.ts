import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as createH5 } from '../../../functions/http/create-h5-order';
import { handler as getH5 } from '../../../functions/http/get-h5-order';
import { handler as createContractOrder } from '../../../functions/http/create-contract-order';
import { handler as getContractOrder } from '../../../functions/http/get-contract-order';
import { handler as createDeduction } from '../../../functions/http/create-deduction';
import { handler as getDeduction } from '../../../functions/http/get-deduction';
import { handler as createRefund } from '../../../functions/http/create-refund';
import { handler as getRefund } from '../../../functions/http/get-refund';
import { handler as getReconciliation } from '../../../functions/http/get-reconciliation';
import { handler as notifyH5 } from '../../../functions/notify/h5-payment';
import { handler as notifyPayment } from '../../../functions/notify/contract-order-payment';
import { handler as notifyContract } from '../../../functions/notify/contract-order-contract';
import { handler as notifyDeduction } from '../../../functions/notify/deduction';
import { handler as notifyRefund } from '../../../functions/notify/refund';
import { handler as reconcile } from '../../../functions/schedule/reconcile';
import { offsetToBeijingHour } from '../../../sandbox/clock';
import type { RunningSandbox } from '../../../sandbox/index';
import { parseTradeBill, yuanToFen } from '../../../shared/reconciliation/bill';
import { ensureTable } from '../../../scripts/local/dynamodb';
import { localStack, testDynamoDbClient } from '../../support/env';
import { eventually } from '../../support/eventually';
import { httpEvent, lambdaContext, startFlowStack, type FlowStack } from '../../support/flow';

/**
 * Daily reconciliation (checklist G7 / papay #25) against the sandbox's real bill downloads: a day of 200 mixed
 * transactions reconciles to zero differences; then one difference of each kind is reported exactly once.
 */
type Result = APIGatewayProxyStructuredResultV2;
type Json = Record<string, any>;

let flow: FlowStack;
let sandbox: RunningSandbox;
let planId: number;
let day: string;
let tamperBill = false;
let serial = BigInt(Date.now()) * 1000n;

const parse = (r: Result) => JSON.parse(r.body ?? '{}') as Json;
const uniq = (prefix: string) => `${prefix}${randomBytes(8).toString('hex')}`;
const call = async (handler: unknown, body: unknown, extra: Json = {}) =>
  (await (handler as (e: unknown, c: unknown) => Promise<Result>)(httpEvent(body, extra), lambdaContext(29_000))) as Result;
const get = async (handler: unknown, name: string, value: string) => parse(await call(handler, '', { pathParameters: { [name]: value } }));
const run = async () => (await (reconcile as (e: unknown, c: unknown) => Promise<Json>)({ date: day }, lambdaContext(120_000))) as Json;
const report = async () => get(getReconciliation, 'date', day);

/** Moves both clocks (ours and the sandbox's business time) together. */
async function move(seconds: number): Promise<void> {
  flow.clock.offsetMs += seconds * 1000;
  await fetch(`${sandbox.url}/sandbox/time`, { method: 'POST', body: JSON.stringify({ advance_seconds: seconds }) });
}

async function inBatches<T>(count: number, size: number, make: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < count; i += size) out.push(...(await Promise.all(Array.from({ length: Math.min(size, count - i) }, (_, k) => make(i + k)))));
  return out;
}

async function paidH5(total: number): Promise<string> {
  const no = uniq('RCH');
  const created = await call(createH5, { out_trade_no: no, description: '对账', amount: { total }, scene_info: { payer_client_ip: '14.23.150.211', h5_info: { type: 'iOS' } } });
  expect(created.statusCode, created.body).toBe(201);
  expect((await flow.act({ url: parse(created).h5_url, action: 'pay' })).status).toBe(200);
  await eventually(async () => (await get(getH5, 'out_trade_no', no)).state, (s) => s === 'SUCCESS');
  return no;
}

async function paidContractOrder(total: number): Promise<{ no: string; contractCode: string }> {
  const no = uniq('RCP');
  const contractCode = uniq('K');
  const created = await call(createContractOrder, {
    out_trade_no: no, body: '对账', total_fee: total, spbill_create_ip: '123.12.12.123', trade_type: 'APP', plan_id: planId,
    contract_code: contractCode, request_serial: String((serial += 1n)), contract_display_account: '对账',
  });
  expect(created.statusCode, created.body).toBe(201);
  expect((await flow.act({ out_trade_no: no, action: 'pay' })).status).toBe(200);
  await eventually(async () => (await get(getContractOrder, 'out_trade_no', no)).payment?.state, (s) => s === 'SUCCESS');
  return { no, contractCode };
}

beforeAll(async () => {
  // A table of its own: the day's settlements of the other test files (same DynamoDB Local) are not this merchant's.
  const tableName = `recon-${randomBytes(4).toString('hex')}`;
  const dynamo = testDynamoDbClient();
  try {
    await ensureTable(dynamo, tableName);
  } finally {
    dynamo.destroy();
  }
  flow = await startFlowStack({
    tableName,
    routes: {
      'POST /notify/h5-payment': notifyH5 as never,
      'POST /notify/contract-order/payment': notifyPayment as never,
      'POST /notify/contract-order/contract': notifyContract as never,
      'POST /notify/deduction': notifyDeduction as never,
      'POST /notify/refund': notifyRefund as never,
    },
    env: { REFUND_MIN_INTERVAL_SECONDS: '0', H5_QUERY_AFTER_SECONDS: '60' },
    // A bill file changed on its way (WeChat does not sign it): only its SHA-1 from the signed answer can tell.
    intercept: (url) => (tamperBill && url.pathname === '/v3/billdownload/file' ? Promise.resolve(new Response(gzipSync('交易时间\r\n'))) : undefined),
  });
  ({ sandbox } = flow);
  const direct = flow.merchant('direct');
  planId = Number((localStack().sandboxConfig.merchants.find((m: { mchid: string }) => m.mchid === direct.mchid) as { planIds: string[] }).planIds[0]);
  await flow.reset();
  await sandbox.faults.set({ refundOutcome: 'manual' });
  // The day under test starts at 10:00 Beijing time on both clocks (deductions are taken 07:00-22:00).
  flow.clock.offsetMs = 0;
  await move(offsetToBeijingHour(Date.now()) / 1000);
  day = new Date(Date.now() + flow.clock.offsetMs + 8 * 3600 * 1000).toISOString().slice(0, 10);
}, 120_000);
afterAll(async () => {
  await flow?.close();
});

describe('daily reconciliation against the trade bill', () => {
  let h5: string[] = [];
  let refunds: string[] = [];

  it('checklist G7, papay #25: a day of 200 mixed transactions (H5, pay-and-sign, papay, refunds) reconciles to zero differences', async () => {
    h5 = await inBatches(120, 8, (i) => paidH5(100 + i));
    const orders = await inBatches(40, 8, (i) => paidContractOrder(200 + i));
    const contractId = (await eventually(async () => (await get(getContractOrder, 'out_trade_no', orders[0]!.no)).contract, (c) => c?.state === 'SIGNED')).contract_id as string;
    const deductions = await inBatches(20, 5, async (i) => {
      const no = uniq('RCD');
      const res = await call(createDeduction, { contract_id: contractId, out_trade_no: no, total_fee: 300 + i, body: '对账扣款' });
      expect(res.statusCode, res.body).toBe(201);
      return no;
    });
    for (const no of deductions) await eventually(async () => (await get(getDeduction, 'out_trade_no', no)).state, (s) => s === 'SUCCESS');
    refunds = await inBatches(20, 5, async (i) => {
      const no = uniq('RCR');
      const res = await call(createRefund, { out_trade_no: h5[i]!, out_refund_no: no, amount: { refund: 50 } });
      expect(res.statusCode, res.body).toBe(201);
      expect((await flow.act({ out_refund_no: no, action: 'refund-success' })).status).toBe(200);
      return no;
    });
    for (const no of refunds) await eventually(async () => (await get(getRefund, 'out_refund_no', no)).state, (s) => s === 'SUCCESS');

    await move(25 * 3600); // 11:00 the next day: the bill is ready
    const result = await run();
    expect(result).toMatchObject({ day, bill_lines: 200, settled_here: 200, differences: 0 });
    const view = await report();
    expect(view).toMatchObject({ date: day, bill: { lines: 200 }, settled_here: 200, differences: [] });
  }, 180_000);

  it('one difference of each kind is reported exactly once, re-runs included; a fixed one disappears', async () => {
    await move(-25 * 3600 + 600); // back to the day under test, 10:10
    // A payment WeChat has whose notification was lost (and nobody asked): WeChat knows it, we do not.
    await sandbox.faults.set({ notifyDelayMs: 60_000 });
    const lostNo = uniq('RCL');
    const created = await call(createH5, { out_trade_no: lostNo, description: '丢失的通知', amount: { total: 777 }, scene_info: { payer_client_ip: '14.23.150.211', h5_info: { type: 'iOS' } } });
    expect((await flow.act({ url: parse(created).h5_url, action: 'pay' })).status).toBe(200);
    sandbox.notifications.cancelAll();
    await sandbox.faults.set({ notifyDelayMs: 0 });
    const inject = (body: Json) => fetch(`${sandbox.url}/sandbox/bill-discrepancy`, { method: 'POST', body: JSON.stringify(body) });
    expect((await inject({ kind: 'unknown-payment', out_trade_no: 'RCGHOST0001', amount: 1234 })).status).toBe(200);
    expect((await inject({ kind: 'amount', out_trade_no: h5[50], amount: 9999 })).status).toBe(200);
    expect((await inject({ kind: 'omit', out_refund_no: refunds[3] })).status).toBe(200);
    await move(25 * 3600 - 600);

    const first = await run();
    expect(first.differences).toBe(4);
    const kinds = async () => (await report()).differences.map((d: Json) => `${d.kind}:${d.key}`).sort();
    const expected = [`AMOUNT_DIFFERS:PAY:${h5[50]}`, `NOT_IN_BILL:REFUND:${refunds[3]}`, `NOT_RECORDED:PAY:${lostNo}`, 'NOT_RECORDED:PAY:RCGHOST0001'].sort();
    expect(await kinds()).toEqual(expected);
    const amount = (await report()).differences.find((d: Json) => d.kind === 'AMOUNT_DIFFERS');
    expect(amount).toMatchObject({ wechat: { amount: 9999 }, ours: { amount: 150, product: 'H5' } });

    await run(); // re-run: the same four, once each
    expect(await kinds()).toEqual(expected);

    // The lost payment is found (GET confirms an old unpaid order with the query): it settles on the day WeChat says.
    expect((await get(getH5, 'out_trade_no', lostNo)).state).toBe('SUCCESS');
    expect((await run()).differences).toBe(3);
    expect(await kinds()).toEqual(expected.filter((k) => !k.includes(lostNo)));
  }, 120_000);

  it('a bill file that does not match the SHA-1 of the signed answer is refused: nothing is compared or stored', async () => {
    const before = await report();
    tamperBill = true;
    try {
      await expect(run()).rejects.toThrow(/SHA-1/);
    } finally {
      tamperBill = false;
    }
    expect(await report()).toEqual(before);
  });

  it('refuses a day that has no bill yet, or is not a date, naming the field', async () => {
    const today = new Date(Date.now() + flow.clock.offsetMs + 8 * 3600 * 1000).toISOString().slice(0, 10);
    const res = await call(getReconciliation, '', { pathParameters: { date: 'yesterday' } });
    expect(res.statusCode).toBe(400);
    expect(parse(res).errors).toEqual([{ field: 'date', message: expect.any(String) }]);
    expect((await call(getReconciliation, '', { pathParameters: { date: '2020-01-01' } })).statusCode).toBe(400);
    await expect((reconcile as (e: unknown, c: unknown) => Promise<Json>)({ date: today }, lambdaContext(10_000))).rejects.toThrow(/date/);
  });
});

describe('the trade bill format', () => {
  it('reads WeChat\'s layout: backtick cells, yuan to fen by string, refunds apart from payments, totals not lines', () => {
    const text = [
      '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注',
      '`2026-12-03 10:00:00,`wx1,`1900000001,`0,`,`4200001,`A1,`o1,`MWEB,`SUCCESS,`OTHERS,`CNY,`19.99,`0.00,`0,`0,`0.00,`0.00,`,`,`商品,`,`0.11994,`0.60%,`19.99,`0.00,`',
      '`2026-12-03 11:00:00,`wx1,`1900000001,`0,`,`4200001,`A1,`,`MWEB,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`5000001,`R1,`0.10,`0.00,`ORIGINAL,`SUCCESS,`,`,`-0.00000,`0.60%,`0.00,`0.10,`',
      '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额',
      '`2,`19.99,`0.10,`0.00,`0.11994,`19.99,`0.10',
    ].join('\r\n');
    expect(parseTradeBill(text)).toEqual([
      { kind: 'payment', out_trade_no: 'A1', transaction_id: '4200001', trade_type: 'MWEB', amount: 1999 },
      { kind: 'refund', out_trade_no: 'A1', transaction_id: '4200001', trade_type: 'MWEB', amount: 10, out_refund_no: 'R1', refund_id: '5000001', refund_state: 'SUCCESS' },
    ]);
    expect([yuanToFen('0.07'), yuanToFen('1234567.89'), yuanToFen('-0.01'), yuanToFen('5')]).toEqual([7, 123456789, -1, 500]);
    expect(() => yuanToFen('1.005')).toThrow();
  });
});
