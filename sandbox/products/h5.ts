/**
 * H5 payment (direct merchant, H5下单): `POST /v3/pay/transactions/h5`, transaction queries and close,
 * the Pay action and its `TRANSACTION.SUCCESS` notification.
 */
import { rfc3339 } from '../clock';
import type { SandboxMerchant } from '../config';
import { actionFail, actionOk, merchantById, type ActionResult, type SandboxContext, type V3Result } from '../context';
import { ApiError, noAuth, paramError } from '../errors';
import { openidFor, pageToken, prepayId, transactionId } from '../ids';
import { v3Notification } from '../notifications';
import { PAYMENT_SCHEDULE } from '../notifier';
import { keyOf, type H5Order, type Order } from '../state';
import { validateH5Order } from '../validate/h5';
import { canonicalJson, type JsonObject } from '../validate/json';

export const H5_URL_TTL_MS = 5 * 60 * 1000;
export const DEFAULT_ORDER_TTL_MS = 2 * 3600 * 1000;
const MIN_EXPIRE_MS = 60 * 1000;

export const SANDBOX_USER = 'sandbox-user';

export function h5Url(baseUrl: string, order: H5Order): string {
  return `${baseUrl}/pay/h5?prepay_id=${encodeURIComponent(order.prepay_id)}&token=${encodeURIComponent(order.token)}`;
}

/** Closes an unpaid order once its time_expire has passed (a documented sandbox simplification). */
export function refreshOrder(order: Order, nowMs: number): void {
  if (order.trade_state === 'NOTPAY' && order.time_expire_ms !== undefined && nowMs > order.time_expire_ms) {
    order.trade_state = 'CLOSED';
    if (order.kind === 'h5') order.closed_ms = order.time_expire_ms;
  }
}

function issueToken(ctx: SandboxContext, order: H5Order, nowMs: number): void {
  order.token = pageToken();
  order.token_expires_ms = nowMs + H5_URL_TTL_MS;
  ctx.state.tokens.set(order.token, { kind: 'h5', key: keyOf(order.mchid, order.out_trade_no) });
}

export function createH5Order(ctx: SandboxContext, merchant: SandboxMerchant, body: JsonObject, baseUrl: string): V3Result {
  if (merchant.kind !== 'direct') throw noAuth('商户无权限：H5下单仅支持普通商户');
  const req = validateH5Order(body);
  if (req.mchid !== merchant.mchid) {
    throw paramError('mchid', req.mchid, '与Http头Authorization中的mchid不一致', { label: '商户号' });
  }
  if (!merchant.appids.includes(req.appid)) throw new ApiError(400, 'APPID_MCHID_NOT_MATCH', 'AppID和mch_id不匹配');

  const now = ctx.clock.now();
  const key = keyOf(merchant.mchid, req.out_trade_no);
  const fingerprint = canonicalJson(body);
  const existing = ctx.state.orders.get(key);
  if (existing) {
    if (existing.kind !== 'h5' || existing.fingerprint !== fingerprint) {
      throw new ApiError(403, 'OUT_TRADE_NO_USED', '商户订单号重复');
    }
    refreshOrder(existing, now);
    if (existing.trade_state === 'SUCCESS') throw new ApiError(400, 'ORDERPAID', '该订单已支付');
    if (existing.trade_state === 'CLOSED') throw new ApiError(400, 'ORDER_CLOSED', '订单已关闭');
    if (now > existing.token_expires_ms) issueToken(ctx, existing, now);
    ctx.log('h5.reorder', { mchid: merchant.mchid, out_trade_no: req.out_trade_no });
    return { status: 200, body: { h5_url: h5Url(baseUrl, existing) } };
  }

  const requested = req.time_expire_ms ?? now + DEFAULT_ORDER_TTL_MS;
  const order: H5Order = {
    kind: 'h5',
    mchid: merchant.mchid,
    appid: req.appid,
    out_trade_no: req.out_trade_no,
    fingerprint,
    description: req.description,
    total: req.total,
    currency: req.currency,
    notify_url: req.notify_url,
    created_ms: now,
    time_expire_ms: Math.max(requested, now + MIN_EXPIRE_MS),
    prepay_id: prepayId(now),
    token: '',
    token_expires_ms: 0,
    trade_state: 'NOTPAY',
  };
  if (req.attach !== undefined) order.attach = req.attach;
  if (req.device_id !== undefined) order.device_id = req.device_id;
  issueToken(ctx, order, now);
  ctx.state.orders.set(key, order);
  ctx.log('h5.created', { mchid: merchant.mchid, out_trade_no: req.out_trade_no, total: req.total });
  return { status: 200, body: { h5_url: h5Url(baseUrl, order) } };
}

const STATE_DESC: Record<string, string> = {
  NOTPAY: '订单未支付',
  SUCCESS: '支付成功',
  CLOSED: '订单已关闭',
};

/** The transaction object (docs/wechatpay.md, *H5 order*) for H5 orders and contract orders alike. */
export function transactionObject(order: Order): Record<string, unknown> {
  const total = order.kind === 'h5' ? order.total : order.total_fee;
  const out: Record<string, unknown> = {
    appid: order.appid,
    mchid: order.mchid,
    out_trade_no: order.out_trade_no,
  };
  if (order.trade_state === 'SUCCESS') {
    out['transaction_id'] = order.transaction_id;
    out['trade_type'] = order.kind === 'h5' ? 'MWEB' : order.trade_type;
  }
  out['trade_state'] = order.trade_state;
  out['trade_state_desc'] = STATE_DESC[order.trade_state];
  if (order.trade_state === 'SUCCESS') {
    out['bank_type'] = 'OTHERS';
  }
  if (order.attach !== undefined) out['attach'] = order.attach;
  if (order.trade_state === 'SUCCESS') {
    out['success_time'] = rfc3339(order.success_ms ?? 0);
    out['payer'] = { openid: order.openid };
    out['amount'] = { total, payer_total: total, currency: 'CNY', payer_currency: 'CNY' };
  } else {
    out['amount'] = { total, currency: 'CNY', payer_currency: 'CNY' };
  }
  const deviceId = order.kind === 'h5' ? order.device_id : order.device_info;
  if (deviceId !== undefined) out['scene_info'] = { device_id: deviceId };
  return out;
}

function requireQueryMchid(merchant: SandboxMerchant, query: URLSearchParams): void {
  const mchid = query.get('mchid');
  if (mchid === null || mchid === '') {
    throw paramError('mchid', undefined, '必填性规则校验失败，此字段为必填项', { location: 'query', label: '直连商户号' });
  }
  if (mchid !== merchant.mchid) {
    throw paramError('mchid', mchid, '与Http头Authorization中的mchid不一致', { location: 'query', label: '直连商户号' });
  }
}

export function queryByOutTradeNo(
  ctx: SandboxContext,
  merchant: SandboxMerchant,
  outTradeNo: string,
  query: URLSearchParams,
): V3Result {
  requireQueryMchid(merchant, query);
  const order = ctx.state.orders.get(keyOf(merchant.mchid, outTradeNo));
  if (!order) throw new ApiError(404, 'ORDER_NOT_EXIST', '订单不存在');
  refreshOrder(order, ctx.clock.now());
  return { status: 200, body: transactionObject(order) };
}

export function queryByTransactionId(
  ctx: SandboxContext,
  merchant: SandboxMerchant,
  id: string,
  query: URLSearchParams,
): V3Result {
  requireQueryMchid(merchant, query);
  const order = [...ctx.state.orders.values()].find((o) => o.mchid === merchant.mchid && o.transaction_id === id);
  if (!order) throw new ApiError(404, 'ORDER_NOT_EXIST', '订单不存在');
  return { status: 200, body: transactionObject(order) };
}

export function closeOrder(ctx: SandboxContext, merchant: SandboxMerchant, outTradeNo: string, body: JsonObject): V3Result {
  const mchid = body['mchid'];
  if (typeof mchid !== 'string' || mchid === '') {
    throw paramError('mchid', undefined, '必填性规则校验失败，此字段为必填项', { label: '直连商户号' });
  }
  if (mchid !== merchant.mchid) throw paramError('mchid', mchid, '与Http头Authorization中的mchid不一致', { label: '直连商户号' });
  const order = ctx.state.orders.get(keyOf(merchant.mchid, outTradeNo));
  if (!order) throw new ApiError(404, 'ORDER_NOT_EXIST', '订单不存在');
  refreshOrder(order, ctx.clock.now());
  if (order.trade_state === 'SUCCESS') throw new ApiError(400, 'ORDERPAID', '该订单已支付');
  order.trade_state = 'CLOSED';
  if (order.kind === 'h5') order.closed_ms = ctx.clock.now();
  return { status: 204 };
}

/** The person pressed Pay on the h5_url page (or `/sandbox/act`). */
export function payH5Order(ctx: SandboxContext, order: H5Order): ActionResult {
  const now = ctx.clock.now();
  refreshOrder(order, now);
  if (order.trade_state === 'SUCCESS') return actionFail(409, 'ORDERPAID', '该订单已支付');
  if (order.trade_state === 'CLOSED') return actionFail(409, 'ORDER_CLOSED', '订单已关闭');
  const merchant = merchantById(ctx, order.mchid);
  if (!merchant) return actionFail(404, 'NOT_FOUND', '商户不存在');
  order.trade_state = 'SUCCESS';
  order.transaction_id = transactionId();
  order.success_ms = now;
  order.openid = openidFor(order.appid, SANDBOX_USER);
  ctx.log('h5.paid', { mchid: order.mchid, out_trade_no: order.out_trade_no, transaction_id: order.transaction_id });
  const resource = transactionObject(order);
  ctx.notifier.send([
    v3Notification({
      key: ctx.config.wechatpayKey,
      apiV3Key: merchant.apiV3Key,
      event: 'TRANSACTION.SUCCESS',
      summary: '支付成功',
      originalType: 'transaction',
      associatedData: 'transaction',
      resource,
      target: order.notify_url,
      schedule: PAYMENT_SCHEDULE,
      nowMs: now,
      realNow: () => ctx.clock.real(),
    }),
  ]);
  return actionOk('支付成功', { out_trade_no: order.out_trade_no, transaction_id: order.transaction_id });
}
