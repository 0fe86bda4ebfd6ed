import { randomBytes } from 'node:crypto';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { handler as createContractOrder } from '../../../functions/http/create-contract-order';
import { handler as getContractOrder } from '../../../functions/http/get-contract-order';
import { handler as getPapayContract } from '../../../functions/http/get-papay-contract';
import { handler as getByCode } from '../../../functions/http/get-papay-contract-by-code';
import { handler as terminateHandler } from '../../../functions/http/terminate-papay-contract';
import { handler as createDeductionHandler } from '../../../functions/http/create-deduction';
import { handler as getDeductionHandler } from '../../../functions/http/get-deduction';
import { handler as closeDeductionHandler } from '../../../functions/http/close-deduction';
import { handler as notifyPayment } from '../../../functions/notify/contract-order-payment';
import { handler as notifyContract } from '../../../functions/notify/contract-order-contract';
import { handler as notifyDeduction } from '../../../functions/notify/deduction';
import { handler as createRefundHandler } from '../../../functions/http/create-refund';
import { handler as preNoticeHandler } from '../../../functions/http/send-pre-deduction-notice';
import { handler as notifyV2Refund } from '../../../functions/notify/contract-order-refund';
import type { RunningSandbox } from '../../../sandbox/index';
import { offsetToBeijingHour } from '../../../sandbox/clock';
import { localStack } from '../../support/env';
import { eventually } from '../../support/eventually';
import { httpEvent, lambdaContext, startFlowStack, type FlowStack } from '../../support/flow';
import { v2Xml } from '../../support/notifications';

/**
 * Papay after pay-and-sign, against the sandbox: the contract as a resource, termination, and deductions with
 * WeChat's rules — each test named after the papay checklist item it backs.
 */
type Result = APIGatewayProxyStructuredResultV2;
type Json = Record<string, any>;

let flow: FlowStack;
let sandbox: RunningSandbox;
let planId: number;
let direct: { mchid: string; appid: string; apiV2Key: string };
let serial = BigInt(Date.now()) * 1000n;
/** How far business time is moved so both clocks stand at 10:00 Beijing time (the deduction window). */
let offsetMs = 0;

const parse = (r: Result) => JSON.parse(r.body ?? '{}') as Json;
const uniq = (prefix: string) => `${prefix}${randomBytes(8).toString('hex')}`;
const call = async (handler: unknown, body: unknown, extra: Json = {}) =>
  (await (handler as (e: unknown, c: unknown) => Promise<Result>)(httpEvent(body, extra), lambdaContext(29_000))) as Result;
const deduct = (body: Json) => call(createDeductionHandler, body);
const deduction = async (no: string) => parse(await call(getDeductionHandler, '', { pathParameters: { out_trade_no: no } }));
const contract = async (id: string) => call(getPapayContract, '', { pathParameters: { contract_id: id } });
const pappayCalls = () => flow.calls.filter((c) => c === 'POST /pay/pappayapply').length;
const sandboxDeductions = (no: string) => sandbox.state.listPapOrders().filter((o) => o.out_trade_no === no);

/** A pay-and-sign order paid at the sandbox: its contract is SIGNED with us. Returns the contract_id. */
/** A pay-and-sign APP order body with fresh numbers. */
function contractOrderBody(outTradeNo: string, over: Json = {}): Json {
  serial += 1n;
  return {
    out_trade_no: outTradeNo,
    body: '会员月卡',
    total_fee: 1,
    spbill_create_ip: '123.12.12.123',
    trade_type: 'APP',
    plan_id: planId,
    contract_code: uniq('K'),
    request_serial: serial.toString(),
    contract_display_account: '代扣用户',
    ...over,
  };
}

async function signedContract(): Promise<string> {
  const outTradeNo = uniq('PAPD');
  const created = await call(createContractOrder, contractOrderBody(outTradeNo));
  expect(created.statusCode, created.body).toBe(201);
  expect((await flow.act({ out_trade_no: outTradeNo, action: 'pay' })).status).toBe(200);
  const view = await eventually(
    async () => parse(await call(getContractOrder, '', { pathParameters: { out_trade_no: outTradeNo } })),
    (v) => v.contract?.state === 'SIGNED',
  );
  return view.contract.contract_id as string;
}

const deductionBody = (contractId: string, over: Json = {}) => ({
  contract_id: contractId,
  out_trade_no: uniq('DED'),
  total_fee: 990,
  body: '月卡续费',
  ...over,
});

beforeAll(async () => {
  flow = await startFlowStack({
    routes: {
      'POST /notify/contract-order/payment': notifyPayment as never,
      'POST /notify/contract-order/contract': notifyContract as never,
      'POST /notify/deduction': notifyDeduction as never,
      'POST /notify/contract-order/refund': notifyV2Refund as never,
    },
    env: { H5_QUERY_AFTER_SECONDS: '60' },
  });
  ({ sandbox } = flow);
  const m = flow.merchant('direct');
  direct = { mchid: m.mchid, appid: m.appid, apiV2Key: m.apiV2Key! };
  planId = Number((localStack().sandboxConfig.merchants.find((x: { mchid: string }) => x.mchid === direct.mchid) as { planIds: string[] }).planIds[0]);
  // Both clocks at the next 10:00 Beijing time, whatever the wall clock says.
  offsetMs = offsetToBeijingHour(Date.now());
  await fetch(`${sandbox.url}/sandbox/time`, { method: 'POST', body: JSON.stringify({ advance_seconds: offsetMs / 1000 }) });
});
afterAll(async () => {
  await flow?.close();
});
beforeEach(async () => {
  await flow.reset();
  flow.clock.offsetMs = offsetMs;
});

describe('papay contracts', () => {
  it('checklist papay #12, #13: GET /papay-contracts/{contract_id} is the signed contract, openid as WeChat said; a repeated ADD changes nothing', async () => {
    const id = await signedContract();
    const res = await contract(id);
    expect(res.statusCode, res.body).toBe(200);
    const view = parse(res);
    expect(view).toMatchObject({ contract_id: id, state: 'SIGNED', plan_id: planId, openid: expect.any(String) });
    const sandboxContract = sandbox.state.listContracts().papay.find((c) => c.contract_id === id)!;
    expect(view.openid).toBe(sandboxContract.openid);
    const byCode = parse(await call(getByCode, '', { pathParameters: { contract_code: view.contract_code } }));
    expect(byCode).toEqual(view);
    expect((await contract('W0000000000000000000000000000001')).statusCode).toBe(404);
    expect((await contract('bad id!')).statusCode).toBe(400);
  });

  it('terminate: TERMINATED (mode 3), idempotent, the DELETE notification applied once; a terminated contract cannot be charged', async () => {
    const id = await signedContract();
    const ended = await call(terminateHandler, { reason: '用户申请解约' }, { pathParameters: { contract_id: id } });
    expect(ended.statusCode, ended.body).toBe(200);
    expect(parse(ended)).toMatchObject({ state: 'TERMINATED', termination_mode: '3' });
    expect(sandbox.state.listContracts().papay.find((c) => c.contract_id === id)?.state).toBe('TERMINATED');
    expect((await call(terminateHandler, { reason: '再次' }, { pathParameters: { contract_id: id } })).statusCode).toBe(200);
    await sandbox.notifications.waitFor((a) => a.event === 'V2.CONTRACT.DELETE' && a.ok);
    expect(parse(await contract(id)).state).toBe('TERMINATED');
    const refused = await deduct(deductionBody(id));
    expect(refused.statusCode).toBe(409);
    expect(parse(refused).code).toBe('CONTRACT_NOT_SIGNED');
    expect(pappayCalls()).toBe(0);
  });
});

describe('the contract_id index (one transaction per deduction)', () => {
  it('carries the contract\'s state after its transition; a crash before it is repaired by WeChat\'s redelivery of the same notification', async () => {
    const id = await signedContract();
    const c = sandbox.state.listContracts().papay.find((x) => x.contract_id === id)!;
    const { DeleteItemCommand } = await import('@aws-sdk/client-dynamodb');
    const { marshall } = await import('@aws-sdk/util-dynamodb');
    const { keys: k } = await import('../../../shared/store/keys');
    // The code record says SIGNED, the index was never written (a crash between the two writes).
    await flow.rt.dynamo.send(new DeleteItemCommand({ TableName: localStack().tableName, Key: marshall(k.papayContractId(id)) }));
    const early = await deduct(deductionBody(id));
    expect(early.statusCode).toBe(404);
    expect(pappayCalls()).toBe(0);
    const add = {
      return_code: 'SUCCESS',
      mch_id: direct.mchid,
      contract_code: c.contract_code,
      plan_id: String(planId),
      result_code: 'SUCCESS',
      change_type: 'ADD',
      contract_id: id,
      operate_time: '2026-12-03 10:00:00',
      openid: 'o-user',
    };
    const redelivered = (await (notifyContract as unknown as (e: unknown) => Promise<Result>)(httpEvent(v2Xml(add, direct.apiV2Key), { headers: { 'content-type': 'text/xml' } }))) as Result;
    expect(redelivered.statusCode, redelivered.body).toBe(200);
    expect((await deduct(deductionBody(id))).statusCode).toBe(201);
  });

  it('a repeat of a deduction served before is answered from its record even after the contract ended', async () => {
    const id = await signedContract();
    const body = deductionBody(id);
    expect((await deduct(body)).statusCode).toBe(201);
    expect((await call(terminateHandler, { reason: '用户申请解约' }, { pathParameters: { contract_id: id } })).statusCode).toBe(200);
    const again = await deduct(body);
    expect(again.statusCode, again.body).toBe(201);
    expect(parse(again).out_trade_no).toBe(body.out_trade_no);
    expect(parse(await deduct(deductionBody(id))).code).toBe('CONTRACT_NOT_SIGNED');
    expect(pappayCalls()).toBe(1);
  });
});

describe('already signed', () => {
  it('checklist papay #20: CONTRACT_CODE DUPLICATION → the contract is queried first; a contract signed under our plan is recorded and can be charged', async () => {
    const id = await signedContract();
    const code = sandbox.state.listContracts().papay.find((c) => c.contract_id === id)!.contract_code;
    // Our store forgot the contract (another system, a restore…); WeChat still has it signed.
    const { DeleteItemCommand } = await import('@aws-sdk/client-dynamodb');
    const { marshall } = await import('@aws-sdk/util-dynamodb');
    const { keys: k } = await import('../../../shared/store/keys');
    for (const key of [k.contractCode(code), k.papayContractId(id)]) {
      await flow.rt.dynamo.send(new DeleteItemCommand({ TableName: localStack().tableName, Key: marshall(key) }));
    }
    const again = await call(createContractOrder, contractOrderBody(uniq('PAPS'), { contract_code: code }));
    expect(again.statusCode).toBe(409);
    expect(parse(again).code).toBe('CONTRACT_CODE DUPLICATION');
    expect(flow.calls).toContain('POST /papay/querycontract');
    expect(parse(await contract(id))).toMatchObject({ contract_id: id, state: 'SIGNED', contract_code: code });
    expect((await deduct(deductionBody(id))).statusCode).toBe(201);
  });
});

describe('paid, not signed', () => {
  it('checklist papay #21: contract_result_code FAIL → the order is payable and answered with contract_refused; paying signs nothing and nothing can be charged', async () => {
    await sandbox.faults.set({ contractRefused: 1 });
    const outTradeNo = uniq('PAPN');
    const created = await call(createContractOrder, contractOrderBody(outTradeNo));
    expect(created.statusCode, created.body).toBe(201);
    expect(parse(created)).toMatchObject({ prepay_id: expect.any(String), contract_refused: { contract_result_code: 'FAIL', contract_err_code_des: '已签约' } });
    expect((await flow.act({ out_trade_no: outTradeNo, action: 'pay' })).status).toBe(200);
    const view = await eventually(
      async () => parse(await call(getContractOrder, '', { pathParameters: { out_trade_no: outTradeNo } })),
      (v) => v.payment?.state === 'SUCCESS',
    );
    expect(view.contract.state).toBe('REJECTED');
    expect(view.contract.contract_id).toBeUndefined();
  });
});

describe('deductions', () => {
  it('accepted, then charged: the signed result notification books SUCCESS with its transaction', async () => {
    const id = await signedContract();
    const body = deductionBody(id, { attach: '第2期' });
    const res = await deduct(body);
    expect(res.statusCode, res.body).toBe(201);
    expect(parse(res)).toMatchObject({ state: 'ACCEPTED', out_trade_no: body.out_trade_no, total_fee: 990, contract_id: id });
    const done = await eventually(() => deduction(body.out_trade_no), (v) => v.state === 'SUCCESS');
    expect(done).toMatchObject({ state: 'SUCCESS', transaction_id: expect.any(String), time_end: expect.stringMatching(/\+08:00$/), attach: '第2期' });
  });

  it('a charged deduction is refunded through APIv2 over mutual TLS; GET shows the refund', async () => {
    await sandbox.faults.set({ refundOutcome: 'manual' }); // settled by the act below, not the timer
    const id = await signedContract();
    const body = deductionBody(id);
    expect((await deduct(body)).statusCode).toBe(201);
    await eventually(() => deduction(body.out_trade_no), (v) => v.state === 'SUCCESS');
    const outRefundNo = uniq('RF');
    const refunded = await call(createRefundHandler, { out_trade_no: body.out_trade_no, out_refund_no: outRefundNo, amount: { refund: 400 } });
    expect(refunded.statusCode, refunded.body).toBe(201);
    expect(sandbox.state.listRefunds().filter((r) => r.out_trade_no === body.out_trade_no)).toMatchObject([{ protocol: 'v2', refund: 400 }]);
    expect((await flow.act({ out_refund_no: outRefundNo, action: 'refund-success' })).status).toBe(200);
    const view = await eventually(() => deduction(body.out_trade_no), (v) => v.refunded_total === 400);
    expect(view.refunds).toEqual([{ out_refund_no: outRefundNo, state: 'SUCCESS', amount: 400 }]);
  });

  it('checklist papay #9: outside 07:00–22:00 Beijing time a deduction is refused before WeChat is called', async () => {
    const id = await signedContract();
    flow.clock.offsetMs = offsetMs + 13 * 3600 * 1000; // 23:00 Beijing
    const res = await deduct(deductionBody(id));
    expect(res.statusCode).toBe(422);
    expect(parse(res).code).toBe('OUTSIDE_DEDUCTION_WINDOW');
    expect(pappayCalls()).toBe(0);
  });

  it('checklist papay #10: an out_trade_no is used once — a different body, or a number another order holds, is 409 without a call', async () => {
    const id = await signedContract();
    const body = deductionBody(id);
    expect((await deduct(body)).statusCode).toBe(201);
    expect(parse(await deduct({ ...body, total_fee: 991 })).code).toBe('OUT_TRADE_NO_USED');
    const paidOrder = sandbox.state.listOrders().at(-1)!.out_trade_no;
    expect(parse(await deduct(deductionBody(id, { out_trade_no: paidOrder }))).code).toBe('OUT_TRADE_NO_USED');
    expect(pappayCalls()).toBe(1);
  });

  it('checklist papay #16: SYSTEMERROR → 503, and only the identical request (same out_trade_no) goes again; WeChat charges it once', async () => {
    const id = await signedContract();
    const body = deductionBody(id);
    await sandbox.faults.set({ systemError: 1, match: '/pay/pappayapply' });
    const lost = await deduct(body);
    expect(lost.statusCode).toBe(503);
    expect(parse(await deduct({ ...body, total_fee: 1 })).code).toBe('OUT_TRADE_NO_USED');
    const again = await deduct(body);
    expect(again.statusCode).toBe(201);
    expect(sandboxDeductions(body.out_trade_no)).toHaveLength(1);
  });

  it('checklist papay #16: a timeout after WeChat accepted: the identical request is told ORDER_ACCEPTED and is ACCEPTED, one deduction', async () => {
    const id = await signedContract();
    const body = deductionBody(id);
    await sandbox.faults.set({ timeout: 3, timeoutMode: 'after', timeoutHangMs: 5_000, match: '/pay/pappayapply' });
    const lost = await deduct(body);
    expect([201, 503]).toContain(lost.statusCode);
    await sandbox.faults.set({ timeout: 0, match: '' });
    const again = await deduct(body);
    expect(again.statusCode).toBe(201);
    expect(['ACCEPTED', 'SUCCESS']).toContain(parse(again).state);
    expect(sandboxDeductions(body.out_trade_no)).toHaveLength(1);
  });

  it('10 concurrent identical POST /deductions → one WeChat call, one deduction', async () => {
    const id = await signedContract();
    const body = deductionBody(id);
    const answers = await Promise.all(Array.from({ length: 10 }, () => deduct(body)));
    expect(answers.every((a) => a.statusCode === 201)).toBe(true);
    expect(pappayCalls()).toBe(1);
  });

  it('checklist papay #17: a failed deduction is PAY_FAIL with WeChat\'s reason; one failing silently is found by the query', async () => {
    const id = await signedContract();
    await sandbox.faults.set({ deductionOutcome: 'notenough' });
    const notified = deductionBody(id);
    expect((await deduct(notified)).statusCode).toBe(201);
    const failed = await eventually(() => deduction(notified.out_trade_no), (v) => v.state === 'PAY_FAIL');
    expect(failed).toMatchObject({ state: 'PAY_FAIL', failure: { err_code: 'NOTENOUGH' } });

    await sandbox.faults.set({ deductionOutcome: 'silent-fail' });
    const silent = deductionBody(id);
    expect((await deduct(silent)).statusCode).toBe(201);
    await eventually(async () => sandboxDeductions(silent.out_trade_no)[0]?.trade_state, (s) => s === 'PAY_FAIL');
    expect((await deduction(silent.out_trade_no)).state).toBe('ACCEPTED'); // young: from the table
    flow.clock.offsetMs = offsetMs + 61_000;
    expect((await deduction(silent.out_trade_no)).state).toBe('PAY_FAIL');
  });

  it('the sandbox\'s acts force each failure: bank error and balance too low are notified; a contract the user ended cannot be charged', async () => {
    const id = await signedContract();
    await sandbox.faults.set({ deductionOutcome: 'manual' });
    const bank = deductionBody(id);
    const poor = deductionBody(id);
    expect((await deduct(bank)).statusCode).toBe(201);
    expect((await deduct(poor)).statusCode).toBe(201);
    expect((await flow.act({ out_trade_no: bank.out_trade_no, action: 'deduct-bankerror' })).status).toBe(200);
    expect((await flow.act({ out_trade_no: poor.out_trade_no, action: 'deduct-fail' })).status).toBe(200);
    expect(await eventually(() => deduction(bank.out_trade_no), (v) => v.state === 'PAY_FAIL')).toMatchObject({ failure: { err_code: 'BANKERROR' } });
    expect(await eventually(() => deduction(poor.out_trade_no), (v) => v.state === 'PAY_FAIL')).toMatchObject({ failure: { err_code: 'NOTENOUGH' } });
    // The user ends the contract in WeChat: the DELETE notification makes it TERMINATED here, and nothing more is charged.
    const code = sandbox.state.listContracts().papay.find((c) => c.contract_id === id)!.contract_code;
    expect((await flow.act({ contract_code: code, action: 'terminate' })).status).toBe(200);
    await eventually(async () => parse(await contract(id)).state, (state) => state === 'TERMINATED');
    const refused = await deduct(deductionBody(id));
    expect(parse(refused).code).toBe('CONTRACT_NOT_SIGNED');
    expect(pappayCalls()).toBe(2);
  });

  it('checklist papay #14: a result notification whose total_fee or contract differs is flagged, not booked; the genuine one is', async () => {
    const id = await signedContract();
    await sandbox.faults.set({ notifyDelayMs: 60_000 });
    const body = deductionBody(id);
    expect((await deduct(body)).statusCode).toBe(201);
    const fields = (over: Record<string, string>) => ({
      return_code: 'SUCCESS',
      result_code: 'SUCCESS',
      appid: direct.appid,
      mch_id: direct.mchid,
      openid: 'o-user',
      trade_type: 'PAP',
      trade_state: 'SUCCESS',
      total_fee: '990',
      out_trade_no: body.out_trade_no,
      contract_id: id,
      transaction_id: uniq('4200'),
      time_end: '20261203100000',
      nonce_str: 'n',
      ...over,
    });
    const send = async (xml: string) => (await (notifyDeduction as unknown as (e: unknown) => Promise<Result>)(httpEvent(xml, { headers: { 'content-type': 'text/xml' } }))) as Result;
    expect((await send(v2Xml(fields({ total_fee: '1' }), direct.apiV2Key))).statusCode).toBe(200);
    expect((await send(v2Xml(fields({ contract_id: 'W9999' }), direct.apiV2Key))).statusCode).toBe(200);
    expect((await deduction(body.out_trade_no)).state).toBe('ACCEPTED');
    expect((await send(v2Xml(fields({}), 'X'.repeat(32)))).statusCode).toBe(401);
    expect((await deduction(body.out_trade_no)).state).toBe('ACCEPTED');
    expect((await send(v2Xml(fields({}), direct.apiV2Key))).statusCode).toBe(200);
    expect((await deduction(body.out_trade_no)).state).toBe('SUCCESS');
  });

  it('checklist papay #15: a result with err_code SYSTEMERROR books nothing by itself; the query decides', async () => {
    const id = await signedContract();
    // Charged only when the act below says so, never by the sandbox's settle timer.
    await sandbox.faults.set({ notifyDelayMs: 60_000, deductionOutcome: 'manual' });
    const body = deductionBody(id);
    expect((await deduct(body)).statusCode).toBe(201);
    const xml = v2Xml(
      { return_code: 'SUCCESS', result_code: 'FAIL', err_code: 'SYSTEMERROR', err_code_des: '系统错误', appid: direct.appid, mch_id: direct.mchid, out_trade_no: body.out_trade_no, contract_id: id, total_fee: '990', nonce_str: 'n' },
      direct.apiV2Key,
    );
    const send = async () => (await (notifyDeduction as unknown as (e: unknown) => Promise<Result>)(httpEvent(xml, { headers: { 'content-type': 'text/xml' } }))) as Result;
    expect((await send()).statusCode).toBe(200);
    expect((await deduction(body.out_trade_no)).state).toBe('ACCEPTED'); // still accepted at WeChat: nothing booked
    expect((await flow.act({ out_trade_no: body.out_trade_no, action: 'deduct-success' })).status).toBe(200);
    sandbox.notifications.cancelAll();
    expect((await send()).statusCode).toBe(200);
    expect((await deduction(body.out_trade_no)).state).toBe('SUCCESS');
  });
});

describe('closing a deduction (checklist papay #15)', () => {
  const close = (no: string) => call(closeDeductionHandler, '', { pathParameters: { out_trade_no: no } });
  const moveSandbox = (seconds: number) => fetch(`${sandbox.url}/sandbox/time`, { method: 'POST', body: JSON.stringify({ advance_seconds: seconds }) });

  it('checklist papay #15: SYSTEMERROR → query → close (not before 5 minutes) → only then a new number, charged once', async () => {
    const id = await signedContract();
    await sandbox.faults.set({ notifyDelayMs: 60_000, deductionOutcome: 'manual' });
    const first = deductionBody(id);
    expect((await deduct(first)).statusCode).toBe(201);
    const systemError = v2Xml(
      { return_code: 'SUCCESS', result_code: 'FAIL', err_code: 'SYSTEMERROR', err_code_des: '系统错误', appid: direct.appid, mch_id: direct.mchid, out_trade_no: first.out_trade_no, contract_id: id, total_fee: '990', nonce_str: 'n' },
      direct.apiV2Key,
    );
    const notified = (await (notifyDeduction as unknown as (e: unknown) => Promise<Result>)(httpEvent(systemError, { headers: { 'content-type': 'text/xml' } }))) as Result;
    expect(notified.statusCode).toBe(200);
    expect((await deduction(first.out_trade_no)).state).toBe('ACCEPTED'); // the query says still accepted
    const tooEarly = await close(first.out_trade_no);
    expect(tooEarly.statusCode).toBe(429);
    expect(parse(tooEarly).code).toBe('CLOSE_TOO_EARLY');
    expect(sandboxDeductions(first.out_trade_no)[0]?.trade_state).toBe('ACCEPT');
    flow.clock.offsetMs = offsetMs + 6 * 60_000;
    await moveSandbox(6 * 60);
    try {
      const closed = await close(first.out_trade_no);
      expect(closed.statusCode, closed.body).toBe(200);
      expect(parse(closed).state).toBe('CLOSED');
      expect(flow.calls.filter((c) => c === 'POST /pay/paporderquery').length).toBeGreaterThanOrEqual(1);
      expect(sandboxDeductions(first.out_trade_no)[0]?.trade_state).toBe('CLOSED');
      expect((await close(first.out_trade_no)).statusCode).toBe(200); // idempotent
      // Closed: the act that would have charged it cannot, and a new number is safe.
      expect((await flow.act({ out_trade_no: first.out_trade_no, action: 'deduct-success' })).status).not.toBe(200);
      await sandbox.faults.set({ notifyDelayMs: 0 });
      const second = deductionBody(id);
      expect((await deduct(second)).statusCode).toBe(201);
      expect((await flow.act({ out_trade_no: second.out_trade_no, action: 'deduct-success' })).status).toBe(200);
      await eventually(() => deduction(second.out_trade_no), (v) => v.state === 'SUCCESS');
      expect(sandbox.state.listPapOrders().filter((o) => o.contract_id === id && o.trade_state === 'SUCCESS')).toHaveLength(1);
      expect((await deduction(first.out_trade_no)).state).toBe('CLOSED');
    } finally {
      await moveSandbox(-6 * 60);
    }
  });

  it('checklist papay #15: a deduction charged without a word to us is found by the query before any close: 409, refund instead', async () => {
    const id = await signedContract();
    await sandbox.faults.set({ deductionOutcome: 'manual' });
    const body = deductionBody(id);
    expect((await deduct(body)).statusCode).toBe(201);
    await sandbox.faults.set({ notifyDelayMs: 60_000 });
    expect((await flow.act({ out_trade_no: body.out_trade_no, action: 'deduct-success' })).status).toBe(200);
    sandbox.notifications.cancelAll(); // the result notification is lost
    const refused = await close(body.out_trade_no);
    expect(refused.statusCode).toBe(409);
    expect(parse(refused).code).toBe('DEDUCTION_PAID');
    expect(flow.calls).not.toContain('POST /pay/closeorder');
    expect((await deduction(body.out_trade_no)).state).toBe('SUCCESS');
  });
});

// Last: it moves the sandbox's business time a day on.
describe('pre-deduction notice (APIv3)', () => {
  const notice = (id: string, body: Json) => call(preNoticeHandler, body, { pathParameters: { contract_id: id } });
  const noticeCalls = () => flow.calls.filter((c) => c.startsWith('POST /v3/papay/contracts/')).length;

  it('checklist papay #19: within 12 hours of signing no notice is sent (WeChat charges at once)', async () => {
    const id = await signedContract();
    const res = await notice(id, { estimated_amount: 990 });
    expect(res.statusCode, res.body).toBe(200);
    expect(parse(res)).toMatchObject({ sent: false, reason: expect.stringContaining('12 hours') });
    expect(noticeCalls()).toBe(0);
  });

  it('checklist papay #18, #27, #9: later, the notice goes out v3-signed (never the APIv2 key), inside 07:00-22:00 only; the same notice again counts as sent', async () => {
    const id = await signedContract();
    const day = 24 * 3600 * 1000;
    await fetch(`${sandbox.url}/sandbox/time`, { method: 'POST', body: JSON.stringify({ advance_seconds: day / 1000 }) });
    flow.clock.offsetMs = offsetMs + day + 13 * 3600 * 1000; // 23:00 Beijing the next day
    const late = await notice(id, { estimated_amount: 990 });
    expect(late.statusCode).toBe(422);
    expect(parse(late).code).toBe('OUTSIDE_NOTICE_WINDOW');
    expect(noticeCalls()).toBe(0);

    flow.clock.offsetMs = offsetMs + day; // 10:00 Beijing the next day
    const sent = await notice(id, { estimated_amount: 990, deduct_days: 2 });
    expect(sent.statusCode, sent.body).toBe(200);
    expect(parse(sent)).toMatchObject({ sent: true, estimated_amount: 990, deduct_days: 2 });
    // The sandbox took it through its APIv3 pipeline: Authorization checked against the merchant's v3 key.
    expect(sandbox.state.listContracts().papay.find((c) => c.contract_id === id)?.pre_notice).toMatchObject({ amount: 990, days: 2 });
    const v3Call = flow.requests.find((r) => r.path.startsWith('/v3/papay/contracts/'));
    expect(v3Call?.authorization).toMatch(/^WECHATPAY2-SHA256-RSA2048 /);
    expect(parse(await notice(id, { estimated_amount: 990, deduct_days: 2 }))).toMatchObject({ sent: true });
    const other = await notice(id, { estimated_amount: 500, deduct_days: 2 });
    expect(other.statusCode).toBe(422);
    expect(parse(other).code).toBe('INVALID_REQUEST');
  });
});
