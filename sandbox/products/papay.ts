/**
 * Papay (委托代扣) after pay-and-sign, APIv2 XML: `/papay/querycontract`, `/papay/deletecontract`,
 * `/pay/pappayapply` (accepted, then settled asynchronously) with its result notification, `/pay/paporderquery`.
 *
 * Choices (docs/wechatpay.md, "Readings"): deductions are accepted only 07:00–22:00 Beijing business time
 * (`INVALID_REQUEST` "非可扣款时间段" outside); a deduction settles DEDUCTION_SETTLE_SECONDS of business time after
 * it was accepted into what the `deductionOutcome` fault says (`silent-fail` fails without a notification);
 * one `out_trade_no` is charged once (the identical request answers `ORDER_ACCEPTED` / `ORDERPAID`).
 */
import { v2Compact, v2DateTime } from '../clock';
import type { SandboxMerchant } from '../config';
import { actionFail, actionOk, merchantById, type ActionResult, type SandboxContext, type V3Result } from '../context';
import { ApiError, invalidRequest, noAuth, paramError } from '../errors';
import type { JsonObject } from '../validate/json';
import { transactionId } from '../ids';
import { v2Notification } from '../notifications';
import type { OutgoingNotification } from '../notifier';
import { keyOf, type PapContract, type PapOrder } from '../state';
import { V2BusinessError } from '../validate/contract-order';
import { canonicalJson } from '../validate/json';
import { businessFail, readV2Request, signed, v2Endpoint, terminatePapContract, type V2Answer } from './contract-order';

export const DEDUCTION_SETTLE_SECONDS = 60;
/** Deduction result notification re-sends (seconds after each failed attempt). */
export const PAPAY_SCHEDULE: readonly number[] = [15, 15, 30, 180, 1800, 1800, 1800, 1800, 3600];
const CHARS = (s: string) => [...s].length;
const ASTRAL = /[\u{10000}-\u{10FFFF}]/u;

/** Beijing hour of a business time: deductions only 07:00–22:00. */
export function inDeductionWindow(ms: number): boolean {
  const hour = new Date(ms + 8 * 3600 * 1000).getUTCHours();
  return hour >= 7 && hour < 22;
}

function findContract(ctx: SandboxContext, mchid: string, fields: Record<string, string>): PapContract | undefined {
  const contractId = fields['contract_id'];
  if (contractId) return [...ctx.state.papContracts.values()].find((c) => c.mchid === mchid && c.contract_id === contractId);
  const c = ctx.state.papContracts.get(keyOf(mchid, fields['contract_code'] ?? ''));
  return c && c.plan_id === fields['plan_id'] ? c : undefined;
}

function requireVersion(fields: Record<string, string>): void {
  if (fields['version'] !== '1.0') throw new V2BusinessError('PARAM_ERROR', 'version必须为1.0');
  if (!fields['contract_id'] && !(fields['plan_id'] && fields['contract_code'])) {
    throw new V2BusinessError('PARAM_ERROR', 'contract_id或plan_id+contract_code至少填一组');
  }
}

/** `/papay/querycontract`: by contract_id, or plan_id + contract_code. `contract_state` 0 signed, 1 not signed/ended. */
export function handleQueryContract(ctx: SandboxContext, raw: Buffer, forceSystemError: boolean): V2Answer {
  return v2Endpoint(ctx, raw, 'querycontract', forceSystemError, ({ fields, merchant, signType }) => {
    const appid = fields['appid'] ?? '';
    requireVersion(fields);
    const c = findContract(ctx, merchant.mchid, fields);
    if (!c || c.appid !== appid || c.state === 'PENDING') throw new V2BusinessError('CONTRACT_NOT_EXIST', '签约协议不存在');
    const out: Record<string, string> = {
      return_code: 'SUCCESS',
      return_msg: 'OK',
      result_code: 'SUCCESS',
      appid: c.appid,
      mch_id: c.mchid,
      contract_id: c.contract_id ?? '',
      plan_id: c.plan_id,
      request_serial: c.request_serial,
      contract_code: c.contract_code,
      contract_display_account: c.contract_display_account,
      contract_state: c.state === 'SIGNED' ? '0' : '1',
      contract_signed_time: v2DateTime(c.signed_ms ?? 0),
      contract_expired_time: v2DateTime(c.expired_ms ?? 0),
      openid: c.openid ?? '',
    };
    if (c.state === 'TERMINATED') {
      out['contract_terminated_time'] = v2DateTime(c.terminated_ms ?? 0);
      out['contract_termination_mode'] = String(c.termination_mode ?? 2);
    }
    return signed(out, merchant, signType);
  });
}

/** `/papay/deletecontract`: the merchant ends the contract (mode 3); the DELETE notification follows. */
export function handleDeleteContract(ctx: SandboxContext, raw: Buffer, forceSystemError: boolean): V2Answer {
  return v2Endpoint(ctx, raw, 'deletecontract', forceSystemError, ({ fields, merchant, signType }) => {
    const appid = fields['appid'] ?? '';
    requireVersion(fields);
    const remark = fields['contract_termination_remark'] ?? '';
    if (remark === '' || Buffer.byteLength(remark, 'utf8') > 256) throw new V2BusinessError('PARAM_ERROR', 'contract_termination_remark必填且不超过256字节');
    const c = findContract(ctx, merchant.mchid, fields);
    if (!c || c.appid !== appid || c.state !== 'SIGNED') throw new V2BusinessError('CONTRACT_NOT_EXIST', '签约协议不存在或已解约');
    const result = terminatePapContract(ctx, c, 3);
    if (!result.ok) throw new V2BusinessError('CONTRACT_NOT_EXIST', result.message);
    return signed(
      { return_code: 'SUCCESS', return_msg: 'OK', result_code: 'SUCCESS', appid: c.appid, mch_id: c.mchid, contract_id: c.contract_id ?? '', plan_id: c.plan_id, contract_code: c.contract_code },
      merchant,
      signType,
    );
  });
}

/** `/pay/pappayapply`: `result_code SUCCESS` means accepted, not charged; the result comes later. */
export function handlePapPayApply(ctx: SandboxContext, raw: Buffer, forceSystemError: boolean): V2Answer {
  return v2Endpoint(ctx, raw, 'pappayapply', forceSystemError, ({ fields, merchant, signType }) => {
    const appid = fields['appid'] ?? '';
    if (!merchant.appids.includes(appid)) throw new V2BusinessError('APPID_MCHID_NOT_MATCH', 'appid和mch_id不匹配');
    if ((fields['nonce_str'] ?? '') === '') throw new V2BusinessError('PARAM_ERROR', '缺少参数nonce_str');
    if (fields['trade_type'] !== 'PAP') throw new V2BusinessError('PARAM_ERROR', 'trade_type必须为PAP');
    const body = fields['body'] ?? '';
    if (CHARS(body) < 1 || CHARS(body) > 127 || ASTRAL.test(body)) throw new V2BusinessError('PARAM_ERROR', 'body长度或字符不合法');
    const totalFee = Number(fields['total_fee']);
    if (!Number.isSafeInteger(totalFee) || totalFee < 1) throw new V2BusinessError('PARAM_ERROR', 'total_fee格式错误');
    const notifyUrl = fields['notify_url'] ?? '';
    if (notifyUrl === '' || notifyUrl.includes('?')) throw new V2BusinessError('PARAM_ERROR', 'notify_url格式错误');
    const outTradeNo = fields['out_trade_no'] ?? '';
    if (!/^[0-9A-Za-z_\-|*]{1,32}$/.test(outTradeNo)) throw new V2BusinessError('PARAM_ERROR', 'out_trade_no格式错误');
    const { sign: _s, nonce_str: _n, ...stable } = fields;
    const fingerprint = canonicalJson(stable);
    const existing = ctx.state.papOrders.get(keyOf(merchant.mchid, outTradeNo));
    if (existing) {
      // One out_trade_no is charged once: the identical request is told where it stands.
      if (existing.fingerprint !== fingerprint) throw new V2BusinessError('INVALID_REQUEST', '商户订单号重复');
      if (existing.trade_state === 'SUCCESS') throw new V2BusinessError('ORDERPAID', '该订单已支付');
      if (existing.trade_state === 'ACCEPT') throw new V2BusinessError('ORDER_ACCEPTED', '扣款请求已受理，请勿重复发起');
      throw new V2BusinessError('ORDERCLOSED', '该订单已关闭，请使用新的商户订单号');
    }
    const now = ctx.clock.now();
    if (!inDeductionWindow(now)) throw new V2BusinessError('INVALID_REQUEST', '非可扣款时间段，请在北京时间07:00-22:00发起扣款');
    const contract = [...ctx.state.papContracts.values()].find((c) => c.mchid === merchant.mchid && c.contract_id === fields['contract_id']);
    if (!contract || contract.appid !== appid || contract.state !== 'SIGNED') throw new V2BusinessError('CONTRACT_NOT_EXIST', '签约协议不存在或已解约');
    const order: PapOrder = {
      mchid: merchant.mchid,
      appid,
      out_trade_no: outTradeNo,
      contract_id: contract.contract_id!,
      body,
      ...(fields['attach'] ? { attach: fields['attach'] } : {}),
      total_fee: totalFee,
      notify_url: notifyUrl,
      fingerprint,
      trade_state: 'ACCEPT',
      openid: contract.openid ?? '',
      created_ms: now,
      settle_at_ms: now + DEDUCTION_SETTLE_SECONDS * 1000,
    };
    ctx.state.papOrders.set(keyOf(merchant.mchid, outTradeNo), order);
    const timer = setTimeout(() => {
      ctx.state.timers.delete(timer);
      if (ctx.state.papOrders.get(keyOf(order.mchid, order.out_trade_no)) === order) settleDueDeductions(ctx, order.settle_at_ms);
    }, DEDUCTION_SETTLE_SECONDS * 1000 * ctx.timeScale);
    ctx.state.timers.add(timer);
    ctx.log('pappayapply.accepted', { mch_id: merchant.mchid, out_trade_no: outTradeNo, total_fee: totalFee });
    return signed({ return_code: 'SUCCESS', return_msg: 'OK', result_code: 'SUCCESS', appid, mch_id: merchant.mchid }, merchant, signType);
  });
}

/** Settles every accepted deduction due by `atMs` (business time) into the `deductionOutcome` fault. */
export function settleDueDeductions(ctx: SandboxContext, atMs = ctx.clock.now()): void {
  const outcome = ctx.faults.deductionOutcome;
  if (outcome === 'manual') return;
  for (const o of ctx.state.papOrders.values()) {
    if (o.trade_state === 'ACCEPT' && o.settle_at_ms <= atMs) settleDeduction(ctx, o, outcome);
  }
}

function settleDeduction(ctx: SandboxContext, o: PapOrder, outcome: 'success' | 'notenough' | 'bankerror' | 'silent-fail'): void {
  const merchant = merchantById(ctx, o.mchid);
  if (outcome === 'success') {
    o.trade_state = 'SUCCESS';
    o.transaction_id = transactionId();
    o.success_ms = ctx.clock.now();
  } else {
    o.trade_state = 'PAY_FAIL';
    o.err_code = outcome === 'bankerror' ? 'BANKERROR' : 'NOTENOUGH';
    o.err_code_des = outcome === 'bankerror' ? '银行系统异常' : '用户余额不足';
  }
  ctx.log('pappayapply.settled', { out_trade_no: o.out_trade_no, trade_state: o.trade_state });
  if (merchant && outcome !== 'silent-fail') ctx.notifier.send([deductionNotification(o, merchant)]);
}

function deductionFields(o: PapOrder): Record<string, string> {
  const out: Record<string, string> = {
    appid: o.appid,
    mch_id: o.mchid,
    openid: o.openid,
    trade_type: 'PAP',
    trade_state: o.trade_state,
    total_fee: String(o.total_fee),
    fee_type: 'CNY',
    out_trade_no: o.out_trade_no,
    contract_id: o.contract_id,
  };
  if (o.attach !== undefined) out['attach'] = o.attach;
  if (o.trade_state === 'SUCCESS') {
    Object.assign(out, { transaction_id: o.transaction_id ?? '', bank_type: 'OTHERS', cash_fee: String(o.total_fee), is_subscribe: 'N', time_end: v2Compact(o.success_ms ?? 0) });
  }
  return out;
}

function deductionNotification(o: PapOrder, merchant: SandboxMerchant): OutgoingNotification {
  const fields: Record<string, string> = {
    return_code: 'SUCCESS',
    return_msg: 'OK',
    result_code: o.trade_state === 'SUCCESS' ? 'SUCCESS' : 'FAIL',
    ...(o.err_code ? { err_code: o.err_code, err_code_des: o.err_code_des ?? '' } : {}),
    ...deductionFields(o),
  };
  return v2Notification({ event: 'V2.PAPAY', target: o.notify_url, schedule: PAPAY_SCHEDULE, fields, apiV2Key: merchant.apiV2Key ?? '', signType: 'MD5' });
}

/** `/pay/paporderquery`: by transaction_id or out_trade_no; `trade_state` ACCEPT, SUCCESS, PAY_FAIL, CLOSED. */
export function handlePapOrderQuery(ctx: SandboxContext, raw: Buffer, forceSystemError: boolean): V2Answer {
  const request = readV2Request(ctx, raw, 'paporderquery');
  if (!('fields' in request)) return request;
  const { fields, merchant, signType } = request;
  const appid = fields['appid'] ?? '';
  if (forceSystemError) return businessFail(merchant, appid, signType, new V2BusinessError('SYSTEMERROR', '系统超时'));
  const o = fields['transaction_id']
    ? [...ctx.state.papOrders.values()].find((x) => x.mchid === merchant.mchid && x.transaction_id === fields['transaction_id'])
    : ctx.state.papOrders.get(keyOf(merchant.mchid, fields['out_trade_no'] ?? ''));
  if (!o || o.appid !== appid) return businessFail(merchant, appid, signType, new V2BusinessError('ORDERNOTEXIST', '此交易订单号不存在'));
  return signed(
    {
      return_code: 'SUCCESS',
      return_msg: 'OK',
      result_code: 'SUCCESS',
      ...deductionFields(o),
      trade_state_desc: o.trade_state === 'SUCCESS' ? '支付成功' : o.trade_state === 'ACCEPT' ? '已接收，等待扣款' : (o.err_code_des ?? '订单已关闭'),
    },
    merchant,
    signType,
  );
}

/**
 * `/pay/closeorder` for a deduction: an accepted or failed one closes, not within 5 minutes of the apply (WeChat's rule
 * for every closeorder); a charged one answers ORDERPAID. Undefined when no deduction of this merchant and app has the number.
 */
export function closePapOrder(
  ctx: SandboxContext,
  mchid: string,
  appid: string,
  outTradeNo: string,
): 'closed' | 'paid' | 'already' | 'too-early' | undefined {
  const o = ctx.state.papOrders.get(keyOf(mchid, outTradeNo));
  if (!o || o.appid !== appid) return undefined;
  settleDueDeductions(ctx);
  if (o.trade_state === 'SUCCESS') return 'paid';
  if (o.trade_state === 'CLOSED') return 'already';
  if (ctx.clock.now() - o.created_ms < 5 * 60 * 1000) return 'too-early';
  o.trade_state = 'CLOSED';
  return 'closed';
}

export const DEDUCTION_ACTIONS = ['deduct-success', 'deduct-fail', 'deduct-bankerror', 'deduct-silent-fail'] as const;
export type DeductionAction = (typeof DEDUCTION_ACTIONS)[number];

/**
 * Forces an accepted deduction's outcome now: `deduct-fail` = insufficient balance (NOTENOUGH, notified),
 * `deduct-bankerror` (BANKERROR, notified), `deduct-silent-fail` (PAY_FAIL that WeChat does not notify).
 */
export function actOnDeduction(ctx: SandboxContext, outTradeNo: string, mchid: string | undefined, action: DeductionAction): ActionResult {
  const hits = [...ctx.state.papOrders.values()].filter((o) => o.out_trade_no === outTradeNo && (mchid === undefined || o.mchid === mchid));
  if (hits.length !== 1) return actionFail(hits.length === 0 ? 404 : 400, hits.length === 0 ? 'NOT_FOUND' : 'AMBIGUOUS', '扣款单不存在或不唯一');
  const o = hits[0]!;
  if (o.trade_state !== 'ACCEPT') return actionFail(409, 'INVALID_STATE', `扣款单状态为${o.trade_state}`);
  const outcome = ({ 'deduct-success': 'success', 'deduct-fail': 'notenough', 'deduct-bankerror': 'bankerror', 'deduct-silent-fail': 'silent-fail' } as const)[action];
  settleDeduction(ctx, o, outcome);
  return actionOk('扣款状态已变更', { out_trade_no: o.out_trade_no, trade_state: o.trade_state });
}

/**
 * `POST /v3/papay/contracts/{contract_id}/notify` (APIv3, signed with the merchant's v3 credentials — never the
 * APIv2 key): the pre-deduction notice. 07:00–22:00 Beijing time only; the same notice again answers
 * `RESOURCE_ALREADY_EXISTS`, a different one while the last is open (its day and the chargeable days after it)
 * `INVALID_REQUEST`. 204 without a body.
 */
export function preDeductionNotice(ctx: SandboxContext, merchant: SandboxMerchant, contractId: string, body: JsonObject): V3Result {
  if (merchant.kind !== 'direct') throw noAuth('商户无权限：仅普通商户');
  if (body['mchid'] !== merchant.mchid) throw paramError('mchid', body['mchid'], '与Http头Authorization中的mchid不一致', { label: '商户号' });
  const appid = body['appid'];
  if (typeof appid !== 'string' || !merchant.appids.includes(appid)) throw new ApiError(400, 'APPID_MCHID_NOT_MATCH', 'AppID和mch_id不匹配');
  const duration = body['deduct_duration'] as JsonObject | undefined;
  const days = duration?.['count'];
  if (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > 3 || duration?.['unit'] !== 'DAY') {
    throw paramError('deduct_duration', duration, 'count应为1-3，unit应为DAY', { label: '可扣费期' });
  }
  const estimated = body['estimated_amount'] as JsonObject | undefined;
  const amount = estimated?.['amount'];
  if (typeof amount !== 'number' || !Number.isInteger(amount) || amount < 1 || estimated?.['currency'] !== 'CNY') {
    throw paramError('estimated_amount', estimated, 'amount应为正整数，currency应为CNY', { label: '预计扣费金额' });
  }
  const c = [...ctx.state.papContracts.values()].find((x) => x.mchid === merchant.mchid && x.contract_id === contractId);
  if (!c || c.appid !== appid || c.state !== 'SIGNED') throw new ApiError(404, 'CONTRACT_NOT_EXIST', '签约协议不存在或已解约');
  const now = ctx.clock.now();
  if (!inDeductionWindow(now)) throw invalidRequest('当前时间不在可通知时间段（北京时间07:00-22:00）');
  const fingerprint = canonicalJson(body);
  const open = c.pre_notice && now < c.pre_notice.sent_ms + (2 + c.pre_notice.days) * 24 * 3600 * 1000;
  if (open && c.pre_notice!.fingerprint === fingerprint) throw new ApiError(400, 'RESOURCE_ALREADY_EXISTS', '已发送过相同的扣费前通知');
  if (open) throw invalidRequest('已发送过扣费前通知，需要等本次扣费完成后再发起新的');
  c.pre_notice = { amount, days, sent_ms: now, fingerprint };
  ctx.log('papay.pre_notice', { mchid: merchant.mchid, contract_id: contractId, amount });
  return { status: 204 };
}
