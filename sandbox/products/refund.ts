/**
 * Refunds and the APIv2 close. v3: `POST /v3/refund/domestic/refunds`, `GET …/{out_refund_no}`, `REFUND.*`
 * notifications (H5 orders). v2: `/secapi/pay/refund` (mutual TLS only), `/pay/refundquery`, the `req_info`
 * refund notification (contract orders), and `/pay/closeorder`.
 *
 * An independent ledger per order: Σ refunds not CLOSED ≤ the paid total, at most 50 refunds, one number refunds
 * once (the same number with other amounts is refused). A refund is PROCESSING when accepted and settles after
 * REFUND_SETTLE_SECONDS of business time (a real timer scaled by timeScale, or `POST /sandbox/time`) into what the
 * `refundOutcome` fault says; `/sandbox/act` forces an outcome.
 */
import { createCipheriv, createHash, createPublicKey, randomInt } from 'node:crypto';
import { rfc3339, v2DateTime } from '../clock';
import type { SandboxMerchant } from '../config';
import { actionFail, actionOk, merchantById, type ActionResult, type SandboxContext, type V3Result } from '../context';
import { randomAlnum } from '../crypto';
import { ApiError, invalidRequest, paramError } from '../errors';
import { notificationId } from '../ids';
import { v3Notification } from '../notifications';
import type { OutgoingNotification } from '../notifier';
import { keyOf, type ContractOrder, type Order, type PapOrder, type SandboxRefund } from '../state';
import { V2BusinessError } from '../validate/contract-order';
import { canonicalJson, type JsonObject } from '../validate/json';
import { buildV2Xml, isV2SuccessAck } from '../xml';
import { businessFail, readV2Request, signed, v2Endpoint, type V2Answer } from './contract-order';
import { refreshOrder } from './h5';
import { closePapOrder } from './papay';

export const REFUND_SETTLE_SECONDS = 60;
export const MAX_REFUNDS_PER_ORDER = 50;
/** `/pay/closeorder` is refused earlier than this after the order was made. */
export const MIN_CLOSE_AGE_MS = 5 * 60 * 1000;
const OUT_REFUND_NO = /^[0-9A-Za-z_\-|*@]{1,64}$/;
/** The refund notification schedule (24 h 4 m), in seconds. */
export const REFUND_SCHEDULE: readonly number[] = [15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600];
const USER_AGENT = 'Mozilla/4.0 (WechatPay-Sandbox)';

const refundId = (): string => `50${Date.now()}${String(randomInt(1e9)).padStart(9, '0')}`.slice(0, 29);

function refundsOfOrder(ctx: SandboxContext, order: { mchid: string; out_trade_no: string }): SandboxRefund[] {
  return [...ctx.state.refunds.values()].filter((r) => r.mchid === order.mchid && r.out_trade_no === order.out_trade_no);
}

const orderTotal = (order: Order | PapOrder): number => ('kind' in order && order.kind === 'h5' ? order.total : order.total_fee);

/** The shared ledger rule, in WeChat's words for each protocol. */
function checkLedger(ctx: SandboxContext, order: Order | PapOrder, refund: number): 'OVER' | 'TOO_MANY' | undefined {
  const refunds = refundsOfOrder(ctx, order);
  if (refunds.length >= MAX_REFUNDS_PER_ORDER) return 'TOO_MANY';
  const taken = refunds.filter((r) => r.status !== 'CLOSED').reduce((sum, r) => sum + r.refund, 0);
  return taken + refund > orderTotal(order) ? 'OVER' : undefined;
}

function accept(ctx: SandboxContext, r: Omit<SandboxRefund, 'status' | 'created_ms' | 'settle_at_ms' | 'refund_id'>): SandboxRefund {
  const now = ctx.clock.now();
  const refund: SandboxRefund = { ...r, refund_id: refundId(), status: 'PROCESSING', created_ms: now, settle_at_ms: now + REFUND_SETTLE_SECONDS * 1000 };
  ctx.state.refunds.set(keyOf(r.mchid, r.out_refund_no), refund);
  const timer = setTimeout(() => {
    ctx.state.timers.delete(timer);
    if (ctx.state.refunds.get(keyOf(refund.mchid, refund.out_refund_no)) === refund) settleDue(ctx, refund.settle_at_ms);
  }, REFUND_SETTLE_SECONDS * 1000 * ctx.timeScale);
  ctx.state.timers.add(timer);
  ctx.log('refund.accepted', { protocol: r.protocol, mchid: r.mchid, out_refund_no: r.out_refund_no, refund: r.refund });
  return refund;
}

/** Settles every PROCESSING refund due by `atMs` (business time) into the configured outcome. */
export function settleDue(ctx: SandboxContext, atMs = ctx.clock.now()): void {
  const outcome = ctx.faults.refundOutcome;
  if (outcome === 'manual') return;
  for (const r of ctx.state.refunds.values()) {
    if (r.status === 'PROCESSING' && r.settle_at_ms <= atMs) settle(ctx, r, outcome === 'success' ? 'SUCCESS' : outcome === 'abnormal' ? 'ABNORMAL' : 'CLOSED');
  }
}

function settle(ctx: SandboxContext, r: SandboxRefund, status: 'SUCCESS' | 'ABNORMAL' | 'CLOSED'): void {
  r.status = status;
  if (status === 'SUCCESS') r.success_ms = ctx.clock.now();
  ctx.log('refund.settled', { protocol: r.protocol, out_refund_no: r.out_refund_no, status });
  const notification = r.protocol === 'v3' ? v3RefundNotification(ctx, r) : v2RefundNotification(ctx, r);
  if (notification) ctx.notifier.send([notification]);
}

// --- APIv3 ----------------------------------------------------------------------------------------------

export function v3RefundObject(r: SandboxRefund): Record<string, unknown> {
  return {
    refund_id: r.refund_id,
    out_refund_no: r.out_refund_no,
    transaction_id: r.transaction_id,
    out_trade_no: r.out_trade_no,
    channel: 'ORIGINAL',
    user_received_account: '支付用户零钱',
    ...(r.success_ms !== undefined ? { success_time: rfc3339(r.success_ms) } : {}),
    create_time: rfc3339(r.created_ms),
    status: r.status,
    funds_account: 'UNSETTLED',
    amount: {
      total: r.total,
      refund: r.refund,
      payer_total: r.total,
      payer_refund: r.refund,
      settlement_refund: r.refund,
      settlement_total: r.total,
      discount_refund: 0,
      currency: 'CNY',
    },
  };
}

function v3RefundNotification(ctx: SandboxContext, r: SandboxRefund): OutgoingNotification | undefined {
  const merchant = merchantById(ctx, r.mchid);
  if (!merchant || !r.notify_url) return undefined;
  return v3Notification({
    key: ctx.config.wechatpayKey,
    apiV3Key: merchant.apiV3Key,
    event: `REFUND.${r.status}`,
    summary: r.status === 'SUCCESS' ? '退款成功' : r.status === 'CLOSED' ? '退款关闭' : '退款异常',
    originalType: 'refund',
    associatedData: '',
    resource: {
      mchid: r.mchid,
      out_trade_no: r.out_trade_no,
      transaction_id: r.transaction_id,
      out_refund_no: r.out_refund_no,
      refund_id: r.refund_id,
      refund_status: r.status,
      ...(r.success_ms !== undefined ? { success_time: rfc3339(r.success_ms) } : {}),
      user_received_account: '支付用户零钱',
      amount: { total: r.total, refund: r.refund, payer_total: r.total, payer_refund: r.refund },
    },
    target: r.notify_url,
    schedule: REFUND_SCHEDULE,
    nowMs: ctx.clock.now(),
    realNow: () => ctx.clock.real(),
  });
}

const intField = (pointer: string, value: unknown, label: string): number => {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw paramError(pointer, value, '应为整数', { label });
  return value;
};

export function createV3Refund(ctx: SandboxContext, merchant: SandboxMerchant, body: JsonObject): V3Result {
  const outRefundNo = body['out_refund_no'];
  if (typeof outRefundNo !== 'string' || !OUT_REFUND_NO.test(outRefundNo)) throw paramError('out_refund_no', outRefundNo, '格式错误', { label: '商户退款单号' });
  const amount = body['amount'];
  if (typeof amount !== 'object' || amount === null || Array.isArray(amount)) throw paramError('amount', undefined, '必填性规则校验失败，此字段为必填项', { label: '金额信息' });
  const a = amount as JsonObject;
  const refund = intField('amount.refund', a['refund'], '退款金额');
  const total = intField('amount.total', a['total'], '原订单金额');
  if (a['currency'] !== 'CNY') throw paramError('amount.currency', a['currency'], '应为CNY', { label: '退款币种' });
  if (refund < 1) throw paramError('amount.refund', refund, '应大于0', { label: '退款金额' });
  const reason = body['reason'];
  if (reason !== undefined && (typeof reason !== 'string' || Buffer.byteLength(reason, 'utf8') > 80)) throw paramError('reason', reason, '长度超过80字节', { label: '退款原因' });
  const notifyUrl = body['notify_url'];
  if (notifyUrl !== undefined && (typeof notifyUrl !== 'string' || !/^(https:\/\/|http:\/\/(127\.0\.0\.1|localhost)[:/])/.test(notifyUrl) || notifyUrl.includes('?'))) {
    throw paramError('notify_url', notifyUrl, '应为https地址且不带参数', { label: '退款结果回调url' });
  }
  const transactionId = typeof body['transaction_id'] === 'string' ? body['transaction_id'] : undefined;
  const outTradeNo = typeof body['out_trade_no'] === 'string' ? body['out_trade_no'] : undefined;
  if (!transactionId && !outTradeNo) throw invalidRequest('transaction_id和out_trade_no必须二选一');

  const fingerprint = canonicalJson(body);
  const existing = ctx.state.refunds.get(keyOf(merchant.mchid, outRefundNo));
  if (existing) {
    // One number refunds once: the same request is answered with that refund, another one refused.
    if (existing.fingerprint !== fingerprint) throw invalidRequest('订单金额或退款金额与之前请求不一致，请核实后再试');
    return { status: 200, body: v3RefundObject(existing) };
  }
  const order = findOrder(ctx, merchant.mchid, transactionId, outTradeNo);
  if (!order || order.kind !== 'h5') throw new ApiError(404, 'RESOURCE_NOT_EXISTS', '订单不存在');
  refreshOrder(order, ctx.clock.now());
  if (order.trade_state !== 'SUCCESS') throw new ApiError(404, 'RESOURCE_NOT_EXISTS', '订单未支付');
  if (total !== order.total) throw invalidRequest('订单金额与原订单不一致');
  const ledger = checkLedger(ctx, order, refund);
  if (ledger === 'OVER') throw invalidRequest('申请退款金额超过订单可退金额');
  if (ledger === 'TOO_MANY') throw new ApiError(403, 'RULE_LIMIT', '部分退款次数超过50次');
  const accepted = accept(ctx, {
    protocol: 'v3',
    mchid: merchant.mchid,
    appid: order.appid,
    out_refund_no: outRefundNo,
    out_trade_no: order.out_trade_no,
    transaction_id: order.transaction_id!,
    total,
    refund,
    ...(typeof reason === 'string' ? { reason } : {}),
    ...(typeof notifyUrl === 'string' ? { notify_url: notifyUrl } : {}),
    fingerprint,
  });
  return { status: 200, body: v3RefundObject(accepted) };
}

export function queryV3Refund(ctx: SandboxContext, merchant: SandboxMerchant, outRefundNo: string): V3Result {
  const r = ctx.state.refunds.get(keyOf(merchant.mchid, outRefundNo));
  if (!r || r.protocol !== 'v3') throw new ApiError(404, 'RESOURCE_NOT_EXISTS', '退款单不存在');
  return { status: 200, body: v3RefundObject(r) };
}

function findPapOrder(ctx: SandboxContext, mchid: string, transactionId: string | undefined, outTradeNo: string | undefined): PapOrder | undefined {
  if (transactionId) return [...ctx.state.papOrders.values()].find((o) => o.mchid === mchid && o.transaction_id === transactionId);
  return ctx.state.papOrders.get(keyOf(mchid, outTradeNo ?? ''));
}

function findOrder(ctx: SandboxContext, mchid: string, transactionId: string | undefined, outTradeNo: string | undefined): Order | undefined {
  if (transactionId) return [...ctx.state.orders.values()].find((o) => o.mchid === mchid && o.transaction_id === transactionId);
  return ctx.state.orders.get(keyOf(mchid, outTradeNo ?? ''));
}

// --- APIv2 ----------------------------------------------------------------------------------------------

/** Who is on the other end of the TLS connection: the client certificate's serial and public key. */
export interface ClientCertificate {
  serial: string;
  spkiDer: Buffer;
}

/** `/secapi/pay/refund`: only over mutual TLS, with the API certificate of the merchant in `mch_id`. */
export function handleV2Refund(ctx: SandboxContext, raw: Buffer, client: ClientCertificate | undefined, forceSystemError: boolean): V2Answer {
  const request = readV2Request(ctx, raw, 'secapi_refund');
  if (!('fields' in request)) return request;
  const { fields, merchant, signType } = request;
  if (!client || !certificateBelongsTo(client, merchant)) {
    ctx.log('secapi_refund.cert_error', { mch_id: merchant.mchid });
    return { status: 200, xml: buildV2Xml({ return_code: 'FAIL', return_msg: '证书校验失败：请使用本商户号的API证书 (CERT_ERROR)' }) };
  }
  const appid = fields['appid'] ?? '';
  if (forceSystemError) return businessFail(merchant, appid, signType, new V2BusinessError('SYSTEMERROR', '系统超时'));
  try {
    if (!merchant.appids.includes(appid)) throw new V2BusinessError('APPID_MCHID_NOT_MATCH', 'appid和mch_id不匹配');
    const outRefundNo = fields['out_refund_no'] ?? '';
    if (!OUT_REFUND_NO.test(outRefundNo)) throw new V2BusinessError('PARAM_ERROR', 'out_refund_no格式错误');
    const totalFee = Number(fields['total_fee']);
    const refundFee = Number(fields['refund_fee']);
    if (!Number.isSafeInteger(totalFee) || !Number.isSafeInteger(refundFee) || refundFee < 1) throw new V2BusinessError('PARAM_ERROR', 'total_fee或refund_fee格式错误');
    const fingerprint = canonicalJson({ t: fields['transaction_id'] ?? '', o: fields['out_trade_no'] ?? '', totalFee, refundFee });
    const existing = ctx.state.refunds.get(keyOf(merchant.mchid, outRefundNo));
    let r: SandboxRefund;
    if (existing) {
      if (existing.fingerprint !== fingerprint) throw new V2BusinessError('REFUND_FEE_MISMATCH', '订单金额或退款金额与之前请求不一致，请核实后再试');
      r = existing;
    } else {
      // A pay-and-sign payment, or a papay deduction: both are APIv2 orders refunded here.
      const found = findOrder(ctx, merchant.mchid, fields['transaction_id'] || undefined, fields['out_trade_no'] || undefined);
      const deduction = found ? undefined : findPapOrder(ctx, merchant.mchid, fields['transaction_id'] || undefined, fields['out_trade_no'] || undefined);
      if ((!found || found.kind !== 'contractorder') && !deduction) throw new V2BusinessError('INVALID_TRANSACTIONID', '无效transaction_id');
      const order = (found as ContractOrder | undefined) ?? deduction!;
      if (found) refreshOrder(found, ctx.clock.now());
      if (order.trade_state !== 'SUCCESS') throw new V2BusinessError('INVALID_REQUEST', '订单未支付');
      if (totalFee !== order.total_fee) throw new V2BusinessError('INVALID_REQUEST', '订单金额与原订单不一致');
      const ledger = checkLedger(ctx, order, refundFee);
      if (ledger === 'OVER') throw new V2BusinessError('INVALID_REQUEST', '退款金额大于支付金额');
      if (ledger === 'TOO_MANY') throw new V2BusinessError('INVALID_REQUEST', '部分退款次数超过50次');
      r = accept(ctx, {
        protocol: 'v2',
        mchid: merchant.mchid,
        appid: order.appid,
        out_refund_no: outRefundNo,
        out_trade_no: order.out_trade_no,
        transaction_id: order.transaction_id!,
        total: totalFee,
        refund: refundFee,
        ...(fields['refund_desc'] ? { reason: fields['refund_desc'] } : {}),
        ...(fields['notify_url'] ? { notify_url: fields['notify_url'] } : {}),
        sign_type: signType,
        fingerprint,
      });
    }
    return signed(
      {
        return_code: 'SUCCESS',
        return_msg: 'OK',
        result_code: 'SUCCESS',
        appid: r.appid,
        mch_id: r.mchid,
        transaction_id: r.transaction_id,
        out_trade_no: r.out_trade_no,
        out_refund_no: r.out_refund_no,
        refund_id: r.refund_id,
        refund_fee: String(r.refund),
        total_fee: String(r.total),
        cash_fee: String(r.total),
      },
      merchant,
      signType,
    );
  } catch (err) {
    if (err instanceof V2BusinessError) return businessFail(merchant, appid, signType, err);
    throw err;
  }
}

function certificateBelongsTo(client: ClientCertificate, merchant: SandboxMerchant): boolean {
  const serial = merchant.serialNo.toUpperCase().replace(/^0+/, '');
  if (client.serial !== serial) return false;
  try {
    return createPublicKey(merchant.publicKeyPem).export({ type: 'spki', format: 'der' }).equals(client.spkiDer);
  } catch {
    return false;
  }
}

const V2_STATUS: Record<SandboxRefund['status'], string> = { PROCESSING: 'PROCESSING', SUCCESS: 'SUCCESS', ABNORMAL: 'CHANGE', CLOSED: 'REFUNDCLOSE' };

/** `/pay/refundquery`: by refund_id, out_refund_no, transaction_id or out_trade_no (that priority), indexed `_$n`. */
export function handleRefundQuery(ctx: SandboxContext, raw: Buffer, forceSystemError: boolean): V2Answer {
  const request = readV2Request(ctx, raw, 'refundquery');
  if (!('fields' in request)) return request;
  const { fields, merchant, signType } = request;
  const appid = fields['appid'] ?? '';
  if (forceSystemError) return businessFail(merchant, appid, signType, new V2BusinessError('SYSTEMERROR', '系统超时'));
  const mine = [...ctx.state.refunds.values()].filter((r) => r.mchid === merchant.mchid && r.protocol === 'v2');
  const pick =
    fields['refund_id'] ? mine.filter((r) => r.refund_id === fields['refund_id'])
    : fields['out_refund_no'] ? mine.filter((r) => r.out_refund_no === fields['out_refund_no'])
    : fields['transaction_id'] ? mine.filter((r) => r.transaction_id === fields['transaction_id'])
    : mine.filter((r) => r.out_trade_no === fields['out_trade_no']);
  if (pick.length === 0) return businessFail(merchant, appid, signType, new V2BusinessError('REFUNDNOTEXIST', '退款订单查询失败'));
  const first = pick[0]!;
  const out: Record<string, string> = {
    return_code: 'SUCCESS',
    return_msg: 'OK',
    result_code: 'SUCCESS',
    appid: first.appid,
    mch_id: first.mchid,
    transaction_id: first.transaction_id,
    out_trade_no: first.out_trade_no,
    total_fee: String(first.total),
    cash_fee: String(first.total),
    refund_count: String(Math.min(pick.length, 10)),
  };
  pick.slice(0, 10).forEach((r, n) => {
    out[`out_refund_no_${n}`] = r.out_refund_no;
    out[`refund_id_${n}`] = r.refund_id;
    out[`refund_channel_${n}`] = 'ORIGINAL';
    out[`refund_fee_${n}`] = String(r.refund);
    out[`refund_status_${n}`] = V2_STATUS[r.status];
    out[`refund_recv_accout_${n}`] = '支付用户零钱';
    if (r.success_ms !== undefined) out[`refund_success_time_${n}`] = v2DateTime(r.success_ms);
  });
  return signed(out, merchant, signType);
}

/** WeChat's v2 refund notification: no sign; `req_info` = base64(AES-256-ECB(MD5hex(APIv2 key), <root>…</root>)). */
function v2RefundNotification(ctx: SandboxContext, r: SandboxRefund): OutgoingNotification | undefined {
  const merchant = merchantById(ctx, r.mchid);
  if (!merchant?.apiV2Key || !r.notify_url) return undefined;
  const inner: Record<string, string> = {
    transaction_id: r.transaction_id,
    out_trade_no: r.out_trade_no,
    refund_id: r.refund_id,
    out_refund_no: r.out_refund_no,
    total_fee: String(r.total),
    refund_fee: String(r.refund),
    settlement_refund_fee: String(r.refund),
    refund_status: V2_STATUS[r.status],
    ...(r.success_ms !== undefined ? { success_time: v2DateTime(r.success_ms) } : {}),
    refund_recv_accout: '支付用户零钱',
    refund_account: 'REFUND_SOURCE_UNSETTLED_FUNDS',
    refund_request_source: 'API',
  };
  const xml = `<root>${Object.entries(inner).map(([k, v]) => `<${k}><![CDATA[${v}]]></${k}>`).join('')}</root>`;
  const key = Buffer.from(createHash('md5').update(merchant.apiV2Key, 'utf8').digest('hex'), 'latin1');
  const cipher = createCipheriv('aes-256-ecb', key, null);
  const reqInfo = Buffer.concat([cipher.update(xml, 'utf8'), cipher.final()]).toString('base64');
  const body = Buffer.from(buildV2Xml({ return_code: 'SUCCESS', appid: r.appid, mch_id: r.mchid, nonce_str: randomAlnum(32), req_info: reqInfo }), 'utf8');
  return {
    id: `v2-${notificationId()}`,
    protocol: 'v2',
    event: `V2.REFUND.${V2_STATUS[r.status]}`,
    target: r.notify_url,
    schedule: REFUND_SCHEDULE,
    body,
    headers: () => ({ 'Content-Type': 'text/xml; charset=utf-8', 'User-Agent': USER_AGENT }),
    acknowledged: (status, text) => status === 200 && isV2SuccessAck(text),
  };
}

/** `/pay/closeorder`: not within 5 minutes of the order; ORDERPAID; ORDERCLOSED; re-entrant otherwise. */
export function handleCloseOrder(ctx: SandboxContext, raw: Buffer, forceSystemError: boolean): V2Answer {
  return v2Endpoint(ctx, raw, 'closeorder', forceSystemError, ({ fields, merchant, signType }) => {
    const appid = fields['appid'] ?? '';
    const deduction = closePapOrder(ctx, merchant.mchid, appid, fields['out_trade_no'] ?? '');
    if (deduction === 'too-early') throw new V2BusinessError('INVALID_REQUEST', '订单生成后不能马上调用关单接口，最短调用时间间隔为5分钟');
    if (deduction === 'paid') throw new V2BusinessError('ORDERPAID', '订单已支付，不能发起关单');
    if (deduction === 'already') throw new V2BusinessError('ORDERCLOSED', '订单已关闭');
    if (deduction === 'closed') {
      return signed({ return_code: 'SUCCESS', return_msg: 'OK', result_code: 'SUCCESS', appid, mch_id: merchant.mchid }, merchant, signType);
    }
    const order = ctx.state.orders.get(keyOf(merchant.mchid, fields['out_trade_no'] ?? ''));
    if (!order || order.appid !== appid) throw new V2BusinessError('ORDERNOTEXIST', '订单不存在');
    const now = ctx.clock.now();
    refreshOrder(order, now);
    if (order.trade_state === 'SUCCESS') throw new V2BusinessError('ORDERPAID', '订单已支付，不能发起关单');
    if (order.trade_state === 'CLOSED') throw new V2BusinessError('ORDERCLOSED', '订单已关闭');
    if (now - order.created_ms < MIN_CLOSE_AGE_MS) throw new V2BusinessError('INVALID_REQUEST', '订单生成后不能马上调用关单接口，最短调用时间间隔为5分钟');
    order.trade_state = 'CLOSED';
    ctx.log('closeorder.closed', { mchid: merchant.mchid, out_trade_no: order.out_trade_no });
    return signed({ return_code: 'SUCCESS', return_msg: 'OK', result_code: 'SUCCESS', appid, mch_id: merchant.mchid }, merchant, signType);
  });
}

// --- /sandbox/act -----------------------------------------------------------------------------------------

export const REFUND_ACTIONS = ['refund-success', 'refund-abnormal', 'refund-close'] as const;
export type RefundAction = (typeof REFUND_ACTIONS)[number];

/** Forces a refund's outcome (a PROCESSING or ABNORMAL refund only: SUCCESS and CLOSED are final). */
export function actOnRefund(ctx: SandboxContext, outRefundNo: string, mchid: string | undefined, action: RefundAction): ActionResult {
  const hits = [...ctx.state.refunds.values()].filter((r) => r.out_refund_no === outRefundNo && (mchid === undefined || r.mchid === mchid));
  if (hits.length === 0) return actionFail(404, 'NOT_FOUND', '退款单不存在');
  if (hits.length > 1) return actionFail(400, 'AMBIGUOUS', '多个商户存在该退款单号，请同时传入mchid');
  const r = hits[0]!;
  if (r.status === 'SUCCESS' || r.status === 'CLOSED') return actionFail(409, 'INVALID_STATE', `退款已${r.status === 'SUCCESS' ? '成功' : '关闭'}`);
  const status = action === 'refund-success' ? 'SUCCESS' : action === 'refund-abnormal' ? 'ABNORMAL' : 'CLOSED';
  if (status === r.status) return actionFail(409, 'INVALID_STATE', '退款已是该状态');
  settle(ctx, r, status);
  return actionOk('退款状态已变更', { out_refund_no: r.out_refund_no, status });
}
