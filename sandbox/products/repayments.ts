/**
 * Credit-repayment repayments after signing (partner APIv3): schedule-records batch-create and query, deduct-orders
 * create and query (the query shares `queryDeductOrder`), and their settlement. A deduct order is accepted PENDING
 * and settles when the tester says so (`/sandbox/act` repay-success / repay-fail), or on its own after 60 s of
 * business time × timeScale. Success is notified (`CREDIT_REPAYMENT.DEDUCTION_PAY`); a failure is not (the
 * reference cannot confirm WeChat notifies failures: a receiver must query), which is the strict reading.
 */
import { createHash } from 'node:crypto';
import type { SandboxMerchant } from '../config';
import { actionFail, actionOk, merchantById, type ActionResult, type SandboxContext, type V3Result } from '../context';
import { ApiError, invalidRequest, noAuth } from '../errors';
import { transactionId } from '../ids';
import { keyOf, type DeductOrder, type RepaymentContract, type ScheduleRecord } from '../state';
import { Fields } from '../validate/fields';
import type { JsonObject } from '../validate/json';
import { deductionPayNotification, deductOrderObject } from './credit-repayment';

const DAY_MS = 24 * 3600 * 1000;
const SETTLE_AFTER_MS = 60_000;
const ALNUM32 = /^[0-9A-Za-z]{1,32}$/;
const FEN = /^[1-9][0-9]{0,15}$/;

function partner(merchant: SandboxMerchant): void {
  if (merchant.kind !== 'partner') throw noAuth('商户无权限：信贷还款接口仅支持服务商');
}

function contractById(ctx: SandboxContext, mchid: string, contractId: string): RepaymentContract | undefined {
  for (const c of ctx.state.repaymentContracts.values()) if (c.mchid === mchid && c.contract_id === contractId) return c;
  return undefined;
}

const fingerprint = (body: JsonObject) => createHash('sha256').update(JSON.stringify(body)).digest('hex');
const beijingDate = (ms: number) => new Date(ms + 8 * 3600 * 1000).toISOString().slice(0, 10);

function scheduleObject(r: ScheduleRecord): Record<string, unknown> {
  return {
    out_record_id: r.out_record_id,
    appid: r.appid,
    ...(r.sub_appid ? { sub_appid: r.sub_appid } : {}),
    contract_id: r.contract_id,
    repayment_amount: r.repayment_amount,
    min_repayment_amount: r.min_repayment_amount,
    repayment_date: r.repayment_date,
    openid: r.openid,
  };
}

/** `POST /v3/credit-repayment/partner/schedule-records/batch-create`: one item; repayment_date in (today, today + 15). */
export function createScheduleRecords(ctx: SandboxContext, merchant: SandboxMerchant, body: JsonObject): V3Result {
  partner(merchant);
  const f = new Fields(body);
  f.onlyKnown(['contract_id', 'appid', 'openid', 'schedule_items']);
  const contractId = f.string('contract_id', { label: '委托代扣协议id', required: true, max: 64 }) as string;
  const appid = f.string('appid', { label: '应用ID', required: true, max: 32 }) as string;
  const openid = f.string('openid', { label: '用户标识', required: true, max: 128 }) as string;
  const items = f.array('schedule_items', { label: '预约还款项', required: true, min: 1, max: 1 }) as unknown[];
  const item = new Fields(items[0] as JsonObject, 'schedule_items[0]');
  item.onlyKnown(['out_record_id', 'sub_mchid', 'sub_appid', 'repayment_amount', 'min_repayment_amount', 'repayment_date']);
  const outRecordId = item.string('out_record_id', { label: '商户预约还款单号', required: true, max: 32, pattern: ALNUM32 }) as string;
  const subMchid = item.string('sub_mchid', { label: '子商户号', required: true, max: 32 }) as string;
  const subAppid = item.string('sub_appid', { label: '子商户应用ID', max: 32 });
  const amount = item.string('repayment_amount', { label: '预约还款金额', required: true, pattern: FEN }) as string;
  const min = item.string('min_repayment_amount', { label: '最低还款金额', pattern: FEN });
  const date = item.string('repayment_date', { label: '预约还款日期', required: true, pattern: /^\d{4}-\d{2}-\d{2}$/ }) as string;

  const c = contractById(ctx, merchant.mchid, contractId);
  if (!c || c.status !== 'EFFECTIVE') throw new ApiError(404, 'NOT_FOUND', '协议不存在或已解约');
  if (c.appid !== appid) throw invalidRequest('appid与协议不匹配');
  if (c.openid !== openid) throw invalidRequest('openid与协议不匹配');
  if (BigInt(amount) > BigInt(c.repayment_amount_limit)) throw invalidRequest('预约还款金额超过协议的单次还款上限');
  if (min !== undefined && BigInt(min) * 10n < BigInt(amount)) throw invalidRequest('最低还款金额不得低于预约还款金额的10%');
  if (min !== undefined && BigInt(min) > BigInt(amount)) throw invalidRequest('最低还款金额不得高于预约还款金额');
  const today = beijingDate(ctx.clock.now());
  const first = beijingDate(Date.parse(`${today}T00:00:00+08:00`) + DAY_MS);
  const last = beijingDate(Date.parse(`${today}T00:00:00+08:00`) + 14 * DAY_MS);
  if (date < first || date > last) throw invalidRequest('预约还款日期须在预约当日+1至+14天内');

  const print = fingerprint({ contractId, appid, openid, item: items[0] as JsonObject });
  const key = keyOf(merchant.mchid, outRecordId);
  const existing = ctx.state.scheduleRecords.get(key);
  if (existing) {
    if (existing.fingerprint !== print) throw new ApiError(400, 'INVALID_REQUEST', '商户预约还款单号已存在');
    return { status: 200, body: { schedule_records: [scheduleObject(existing)] } };
  }
  const record: ScheduleRecord = {
    mchid: merchant.mchid,
    out_record_id: outRecordId,
    appid,
    sub_mchid: subMchid,
    ...(subAppid ? { sub_appid: subAppid } : {}),
    contract_id: contractId,
    openid,
    repayment_amount: amount,
    min_repayment_amount: min ?? amount,
    repayment_date: date,
    fingerprint: print,
  };
  ctx.state.scheduleRecords.set(key, record);
  return { status: 200, body: { schedule_records: [scheduleObject(record)] } };
}

/** `GET /v3/credit-repayment/partner/schedule-records/{out_record_id}?contract_id=…` (contract_id required). */
export function queryScheduleRecord(ctx: SandboxContext, merchant: SandboxMerchant, outRecordId: string, query: URLSearchParams): V3Result {
  partner(merchant);
  const contractId = query.get('contract_id');
  if (!contractId) throw invalidRequest('缺少参数contract_id');
  const r = ctx.state.scheduleRecords.get(keyOf(merchant.mchid, outRecordId));
  if (!r || r.contract_id !== contractId) throw new ApiError(404, 'NOT_FOUND', '预约还款单不存在');
  return { status: 200, body: scheduleObject(r) };
}

/** `POST /v3/credit-repayment/partner/deduct-orders`: a repayment of a scheduled record; accepted PENDING. */
export function createDeductOrder(ctx: SandboxContext, merchant: SandboxMerchant, body: JsonObject): V3Result {
  partner(merchant);
  const f = new Fields(body);
  f.onlyKnown(['contract_id', 'out_trade_no', 'out_record_id', 'deduct_amount', 'notify_url', 'description', 'attach']);
  const contractId = f.string('contract_id', { label: '委托代扣协议id', required: true, max: 64 }) as string;
  const outTradeNo = f.string('out_trade_no', { label: '商户还款单号', required: true, max: 32, pattern: ALNUM32 }) as string;
  const outRecordId = f.string('out_record_id', { label: '商户预约还款单号', required: true, max: 32 }) as string;
  const amount = f.string('deduct_amount', { label: '还款金额', required: true, pattern: FEN }) as string;
  const notifyUrl = f.string('notify_url', { label: '通知地址', required: true, max: 256 }) as string;
  const description = f.string('description', { label: '还款描述', required: true, max: 127 }) as string;
  const attach = f.string('attach', { label: '附加数据', max: 128 });
  if (notifyUrl.includes('?')) throw invalidRequest('notify_url不能携带参数');

  const print = fingerprint(body);
  const key = keyOf(merchant.mchid, outTradeNo);
  const existing = ctx.state.deductOrders.get(key);
  if (existing) {
    // UNCONFIRMED at WeChat; the strict reading: the identical request answers the order, anything else is refused.
    if (existing.fingerprint !== print) throw new ApiError(400, 'INVALID_REQUEST', '商户还款单号已存在');
    return { status: 200, body: deductOrderObject(existing) };
  }
  const c = contractById(ctx, merchant.mchid, contractId);
  if (!c || c.status !== 'EFFECTIVE') throw new ApiError(404, 'NOT_FOUND', '协议不存在或已解约');
  const record = ctx.state.scheduleRecords.get(keyOf(merchant.mchid, outRecordId));
  if (!record || record.contract_id !== contractId) throw invalidRequest('只有成功预约还款之后才能发起还款');
  if (BigInt(amount) > BigInt(record.repayment_amount) || BigInt(amount) < BigInt(record.min_repayment_amount)) {
    throw invalidRequest('还款金额须在预约的最低还款金额与预约还款金额之间');
  }
  const d: DeductOrder = {
    mchid: merchant.mchid,
    appid: c.appid,
    ...(c.sub_appid ? { sub_appid: c.sub_appid } : {}),
    out_trade_no: outTradeNo,
    out_contract_code: c.out_contract_code,
    contract_id: contractId,
    openid: c.openid ?? '',
    order_state: 'DEDUCT_ORDER_STATE_PENDING',
    deduct_amount: amount,
    description,
    ...(attach ? { attach } : {}),
    out_record_id: outRecordId,
    notify_url: notifyUrl,
    fingerprint: print,
  };
  ctx.state.deductOrders.set(key, d);
  const timer = setTimeout(() => {
    ctx.state.timers.delete(timer);
    // `deductionOutcome: manual` holds every repayment for /sandbox/act, as it does papay deductions.
    if (d.order_state === 'DEDUCT_ORDER_STATE_PENDING' && ctx.faults.deductionOutcome !== 'manual') settleRepayment(ctx, d, 'success');
  }, SETTLE_AFTER_MS * ctx.timeScale);
  ctx.state.timers.add(timer);
  return { status: 200, body: deductOrderObject(d) };
}

/** Settles a repayment: success (all, or `amount` fen of it) is notified; a failure is not. */
export function settleRepayment(ctx: SandboxContext, d: DeductOrder, outcome: 'success' | 'fail', amount?: string): void {
  const merchant = merchantById(ctx, d.mchid);
  if (!merchant) return;
  const now = ctx.clock.now();
  if (outcome === 'fail') {
    d.order_state = 'DEDUCT_ORDER_STATE_PAY_FAIL';
    return;
  }
  d.order_state = 'DEDUCT_ORDER_STATE_PAY_SUCCESS';
  d.pay_success_amount = amount ?? d.deduct_amount;
  d.transaction_id = transactionId();
  d.success_ms = now;
  if (!d.notify_url) return;
  ctx.notifier.send([deductionPayNotification(ctx, merchant, d, d.notify_url)]);
}

export const REPAYMENT_ACTIONS = ['repay-success', 'repay-fail'] as const;
export type RepaymentAction = (typeof REPAYMENT_ACTIONS)[number];

/** `/sandbox/act {out_trade_no, action: repay-success | repay-fail, amount?}`: the user repays (all or part), or it fails. */
export function actOnRepayment(ctx: SandboxContext, outTradeNo: string, mchid: string | undefined, action: RepaymentAction, amount?: string): ActionResult {
  const hits = [...ctx.state.deductOrders.values()].filter((d) => d.out_trade_no === outTradeNo && (mchid === undefined || d.mchid === mchid));
  if (hits.length !== 1) return actionFail(hits.length === 0 ? 404 : 400, hits.length === 0 ? 'NOT_FOUND' : 'AMBIGUOUS', '还款单不存在或不唯一');
  const d = hits[0]!;
  if (d.order_state !== 'DEDUCT_ORDER_STATE_PENDING' && d.order_state !== 'DEDUCT_ORDER_STATE_NOT_PAY') return actionFail(409, 'INVALID_STATE', `还款单状态为${d.order_state}`);
  if (amount !== undefined && (!FEN.test(amount) || BigInt(amount) > BigInt(d.deduct_amount))) return actionFail(400, 'BAD_AMOUNT', 'amount须为不超过还款金额的分');
  settleRepayment(ctx, d, action === 'repay-success' ? 'success' : 'fail', amount);
  return actionOk('还款状态已变更', { out_trade_no: d.out_trade_no, order_state: d.order_state });
}
