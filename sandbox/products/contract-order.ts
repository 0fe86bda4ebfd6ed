/**
 * Pay-and-sign (APIv2 XML, direct merchant, 支付中签约): `POST /pay/contractorder`, the Pay action (pays AND
 * signs) with its two XML notifications, and contract termination.
 */
import { v2Compact, v2DateTime } from '../clock';
import type { SandboxMerchant } from '../config';
import { actionFail, actionOk, merchantById, type ActionResult, type SandboxContext } from '../context';
import { randomAlnum, safeEqual, v2Sign, type V2SignType } from '../crypto';
import { codeUrl, openidFor, pageToken, papContractId, prepayId, transactionId } from '../ids';
import { v2Notification } from '../notifications';
import { PAYMENT_SCHEDULE, V2_CONTRACT_SCHEDULE, type OutgoingNotification } from '../notifier';
import { keyOf, type ContractOrder, type PapContract } from '../state';
import { V2BusinessError, validateContractOrder } from '../validate/contract-order';
import { buildV2Xml, parseV2Xml, XmlFormatError } from '../xml';
import { refreshOrder, SANDBOX_USER } from './h5';

export const PREPAY_TTL_MS = 2 * 3600 * 1000;
export const MWEB_URL_TTL_MS = 5 * 60 * 1000;
const CONTRACT_VALIDITY_MS = 5 * 365 * 24 * 3600 * 1000;

export interface V2Answer {
  status: number;
  xml: string;
}

const fail = (msg: string): V2Answer => ({
  status: 200,
  xml: buildV2Xml({ return_code: 'FAIL', return_msg: msg }),
});

export function signed(fields: Record<string, string>, merchant: SandboxMerchant, signType: V2SignType): V2Answer {
  const out: Record<string, string> = { ...fields, nonce_str: randomAlnum(32) };
  out['sign'] = v2Sign(out, merchant.apiV2Key ?? '', signType);
  return { status: 200, xml: buildV2Xml(out) };
}

export function businessFail(
  merchant: SandboxMerchant,
  appid: string,
  signType: V2SignType,
  err: V2BusinessError,
  contractFail = false,
): V2Answer {
  const fields: Record<string, string> = {
    return_code: 'SUCCESS',
    return_msg: 'OK',
    result_code: 'FAIL',
    appid,
    mch_id: merchant.mchid,
    err_code: err.errCode,
    err_code_des: err.errCodeDes,
  };
  if (contractFail) {
    fields['contract_result_code'] = 'FAIL';
    fields['contract_err_code'] = err.errCode;
    fields['contract_err_code_des'] = err.errCodeDes;
  }
  return signed(fields, merchant, signType);
}

export function mwebUrl(baseUrl: string, order: ContractOrder): string {
  return `${baseUrl}/pay/mweb?prepay_id=${encodeURIComponent(order.prepay_id)}&token=${encodeURIComponent(order.token ?? '')}`;
}

function successAnswer(order: ContractOrder, merchant: SandboxMerchant, baseUrl: string): V2Answer {
  const fields: Record<string, string> = {
    return_code: 'SUCCESS',
    return_msg: 'OK',
    result_code: 'SUCCESS',
    appid: order.appid,
    mch_id: order.mchid,
    prepay_id: order.prepay_id,
    trade_type: order.trade_type,
  };
  if (order.code_url !== undefined) fields['code_url'] = order.code_url;
  if (order.trade_type === 'MWEB') fields['mweb_url'] = mwebUrl(baseUrl, order);
  fields['plan_id'] = order.plan_id;
  fields['request_serial'] = order.request_serial;
  fields['contract_code'] = order.contract_code;
  fields['contract_display_account'] = order.contract_display_account;
  fields['out_trade_no'] = order.out_trade_no;
  if (order.contract_refused) {
    fields['contract_result_code'] = 'FAIL';
    fields['contract_err_code'] = 'Fail';
    fields['contract_err_code_des'] = '已签约';
  } else {
    fields['contract_result_code'] = 'SUCCESS';
  }
  return signed(fields, merchant, order.sign_type);
}

function refreshLinks(ctx: SandboxContext, order: ContractOrder, now: number): void {
  if (now > order.prepay_expires_ms) {
    order.prepay_id = prepayId(now);
    order.prepay_expires_ms = now + PREPAY_TTL_MS;
  }
  if (order.trade_type === 'MWEB' && (order.token === undefined || now > (order.token_expires_ms ?? 0))) {
    order.token = pageToken();
    order.token_expires_ms = now + MWEB_URL_TTL_MS;
    ctx.state.tokens.set(order.token, { kind: 'mweb', key: keyOf(order.mchid, order.out_trade_no) });
  }
}

export interface V2Request {
  fields: Record<string, string>;
  merchant: SandboxMerchant & { apiV2Key: string };
  signType: V2SignType;
}

/**
 * The communication-level checks every APIv2 call shares: flat XML, a direct merchant with an APIv2 key, and a
 * sign that verifies. Anything else is an unsigned `return_code FAIL`.
 */
export function readV2Request(ctx: SandboxContext, raw: Buffer, event: string): V2Request | V2Answer {
  let fields: Record<string, string>;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
    fields = parseV2Xml(text);
  } catch (err) {
    ctx.log(`${event}.xml_fail`, { error: err instanceof XmlFormatError ? err.message : 'invalid utf-8' });
    return fail('XML格式错误');
  }
  const mchId = fields['mch_id'];
  if (mchId === undefined || mchId === '') return fail('缺少参数mch_id');
  const merchant = merchantById(ctx, mchId);
  if (!merchant || merchant.kind !== 'direct' || merchant.apiV2Key === undefined) return fail('商户号mch_id不存在或未开通此接口');
  const signTypeRaw = fields['sign_type'] ?? 'MD5';
  if (signTypeRaw !== 'MD5' && signTypeRaw !== 'HMAC-SHA256') return fail('签名类型sign_type错误');
  const signType: V2SignType = signTypeRaw;
  const sign = fields['sign'];
  if (sign === undefined || sign === '') return fail('缺少参数sign');
  if (!safeEqual(v2Sign(fields, merchant.apiV2Key, signType), sign)) {
    ctx.log(`${event}.sign_error`, { mch_id: mchId });
    return fail('签名错误');
  }
  return { fields, merchant: { ...merchant, apiV2Key: merchant.apiV2Key }, signType };
}

/**
 * What every APIv2 endpoint shares: read and verify the request, the SYSTEMERROR fault, then the business, whose
 * refusals (V2BusinessError) become signed `result_code FAIL` answers.
 */
export function v2Endpoint(
  ctx: SandboxContext,
  raw: Buffer,
  event: string,
  forceSystemError: boolean,
  run: (request: V2Request) => V2Answer,
): V2Answer {
  const request = readV2Request(ctx, raw, event);
  if (!('fields' in request)) return request;
  const { fields, merchant, signType } = request;
  const appid = fields['appid'] ?? '';
  if (forceSystemError) return businessFail(merchant, appid, signType, new V2BusinessError('SYSTEMERROR', '系统超时'));
  try {
    return run(request);
  } catch (err) {
    if (err instanceof V2BusinessError) return businessFail(merchant, appid, signType, err);
    throw err;
  }
}

/** Handles the raw XML body of `POST /pay/contractorder`. */
export function handleContractOrder(ctx: SandboxContext, raw: Buffer, baseUrl: string, forceSystemError: boolean): V2Answer {
  const request = readV2Request(ctx, raw, 'contractorder');
  if (!('fields' in request)) return request;
  const { fields, merchant, signType } = request;
  const appid = fields['appid'] ?? '';
  if (forceSystemError) return businessFail(merchant, appid, signType, new V2BusinessError('SYSTEMERROR', '系统超时'));

  try {
    const req = validateContractOrder(fields);
    if (!merchant.appids.includes(req.appid)) throw new V2BusinessError('APPID_MCHID_NOT_MATCH', 'appid和mch_id不匹配');
    if (!(merchant.planIds ?? []).includes(req.plan_id)) throw new V2BusinessError('INVALID PLAN_ID', '签约模板无效');

    const now = ctx.clock.now();
    const key = keyOf(merchant.mchid, req.out_trade_no);
    const fp = Object.keys(fields)
      .filter((k) => k !== 'sign' && k !== 'nonce_str')
      .sort()
      .map((k) => `${k}=${fields[k]}`)
      .join('&');
    const existing = ctx.state.orders.get(key);
    if (existing) {
      if (existing.kind !== 'contractorder' || existing.fingerprint !== fp) {
        throw new V2BusinessError('INVALID_REQUEST', '201 商户订单号重复');
      }
      refreshOrder(existing, now);
      if (existing.trade_state === 'SUCCESS') throw new V2BusinessError('ORDERPAID', '该订单已支付');
      if (existing.trade_state === 'CLOSED') throw new V2BusinessError('ORDERCLOSED', '该订单已关闭');
      refreshLinks(ctx, existing, now);
      ctx.log('contractorder.reorder', { mch_id: merchant.mchid, out_trade_no: req.out_trade_no });
      return successAnswer(existing, merchant, baseUrl);
    }
    const contractKey = keyOf(merchant.mchid, req.contract_code);
    if (ctx.state.papContracts.has(contractKey)) {
      return businessFail(merchant, req.appid, signType, new V2BusinessError('CONTRACT_CODE DUPLICATION', '该签约号已存在'), true);
    }
    const serialKey = keyOf(merchant.mchid, req.request_serial);
    if (ctx.state.requestSerials.has(serialKey)) throw new V2BusinessError('PARAM_ERROR', 'request_serial重复，要求唯一');

    const order: ContractOrder = {
      kind: 'contractorder',
      mchid: merchant.mchid,
      appid: req.appid,
      out_trade_no: req.out_trade_no,
      fingerprint: fp,
      sign_type: signType,
      trade_type: req.trade_type,
      body: req.body,
      total_fee: req.total_fee,
      notify_url: req.notify_url,
      contract_notify_url: req.contract_notify_url,
      plan_id: req.plan_id,
      contract_code: req.contract_code,
      request_serial: req.request_serial,
      contract_display_account: req.contract_display_account,
      created_ms: now,
      prepay_id: prepayId(now),
      prepay_expires_ms: now + PREPAY_TTL_MS,
      trade_state: 'NOTPAY',
    };
    if (req.attach !== undefined) order.attach = req.attach;
    if (req.device_info !== undefined) order.device_info = req.device_info;
    if (req.openid !== undefined) order.request_openid = req.openid;
    if (req.time_expire_ms !== undefined) order.time_expire_ms = req.time_expire_ms;
    if (req.trade_type === 'NATIVE') order.code_url = codeUrl();
    if (ctx.faults.takeContractRefusal()) order.contract_refused = true;
    refreshLinks(ctx, order, now);
    ctx.state.orders.set(key, order);
    ctx.state.requestSerials.set(serialKey, req.out_trade_no);
    ctx.state.papContracts.set(contractKey, {
      mchid: merchant.mchid,
      appid: req.appid,
      plan_id: req.plan_id,
      contract_code: req.contract_code,
      request_serial: req.request_serial,
      contract_display_account: req.contract_display_account,
      contract_notify_url: req.contract_notify_url,
      out_trade_no: req.out_trade_no,
      state: 'PENDING',
    });
    ctx.log('contractorder.created', { mch_id: merchant.mchid, out_trade_no: req.out_trade_no, trade_type: req.trade_type });
    return successAnswer(order, merchant, baseUrl);
  } catch (err) {
    if (err instanceof V2BusinessError) {
      ctx.log('contractorder.rejected', { mch_id: merchant.mchid, err_code: err.errCode });
      return businessFail(merchant, appid, signType, err);
    }
    throw err;
  }
}

const TRADE_STATE_DESC: Record<string, string> = {
  NOTPAY: '订单未支付',
  SUCCESS: '支付成功',
  CLOSED: '订单已关闭',
};

/**
 * Handles the raw XML body of `POST /pay/orderquery` (APIv2): any order of the merchant (contract order or H5),
 * by `transaction_id` (preferred when both are given) or `out_trade_no`. Signed like the request.
 */
export function handleOrderQuery(ctx: SandboxContext, raw: Buffer, forceSystemError: boolean): V2Answer {
  const request = readV2Request(ctx, raw, 'orderquery');
  if (!('fields' in request)) return request;
  const { fields, merchant, signType } = request;
  const appid = fields['appid'] ?? '';
  if (forceSystemError) return businessFail(merchant, appid, signType, new V2BusinessError('SYSTEMERROR', '系统超时'));
  try {
    if (appid === '') throw new V2BusinessError('PARAM_ERROR', '缺少参数appid');
    if ((fields['nonce_str'] ?? '') === '') throw new V2BusinessError('PARAM_ERROR', '缺少参数nonce_str');
    if (!merchant.appids.includes(appid)) throw new V2BusinessError('APPID_MCHID_NOT_MATCH', 'appid和mch_id不匹配');
    const transactionId = fields['transaction_id'] ?? '';
    const outTradeNo = fields['out_trade_no'] ?? '';
    if (transactionId === '' && outTradeNo === '') {
      throw new V2BusinessError('PARAM_ERROR', 'out_trade_no和transaction_id至少填一个');
    }
    const order =
      transactionId !== ''
        ? [...ctx.state.orders.values()].find((o) => o.mchid === merchant.mchid && o.transaction_id === transactionId)
        : ctx.state.orders.get(keyOf(merchant.mchid, outTradeNo));
    if (!order || order.appid !== appid) throw new V2BusinessError('ORDERNOTEXIST', '此交易订单号不存在');
    refreshOrder(order, ctx.clock.now());
    const total = order.kind === 'h5' ? order.total : order.total_fee;
    const answer: Record<string, string> = {
      return_code: 'SUCCESS',
      return_msg: 'OK',
      result_code: 'SUCCESS',
      appid: order.appid,
      mch_id: order.mchid,
    };
    const deviceInfo = order.kind === 'h5' ? order.device_id : order.device_info;
    if (deviceInfo !== undefined) answer['device_info'] = deviceInfo;
    Object.assign(answer, {
      out_trade_no: order.out_trade_no,
      trade_type: order.kind === 'h5' ? 'MWEB' : order.trade_type,
      trade_state: order.trade_state,
      trade_state_desc: TRADE_STATE_DESC[order.trade_state] ?? order.trade_state,
      total_fee: String(total),
      fee_type: 'CNY',
    });
    if (order.trade_state === 'SUCCESS') {
      Object.assign(answer, {
        transaction_id: order.transaction_id ?? '',
        openid: order.openid ?? '',
        is_subscribe: 'N',
        bank_type: 'OTHERS',
        cash_fee: String(total),
        cash_fee_type: 'CNY',
        time_end: v2Compact(order.success_ms ?? 0),
      });
    }
    if (order.attach !== undefined) answer['attach'] = order.attach;
    ctx.log('orderquery.answered', { mch_id: merchant.mchid, out_trade_no: order.out_trade_no, trade_state: order.trade_state });
    return signed(answer, merchant, signType);
  } catch (err) {
    if (err instanceof V2BusinessError) {
      ctx.log('orderquery.rejected', { mch_id: merchant.mchid, err_code: err.errCode });
      return businessFail(merchant, appid, signType, err);
    }
    throw err;
  }
}

function paymentNotification(order: ContractOrder, merchant: SandboxMerchant): OutgoingNotification {
  const fields: Record<string, string> = {
    return_code: 'SUCCESS',
    return_msg: 'OK',
    appid: order.appid,
    mch_id: order.mchid,
  };
  if (order.device_info !== undefined) fields['device_info'] = order.device_info;
  Object.assign(fields, {
    result_code: 'SUCCESS',
    openid: order.openid ?? '',
    is_subscribe: 'N',
    trade_type: order.trade_type,
    bank_type: 'OTHERS',
    total_fee: String(order.total_fee),
    fee_type: 'CNY',
    cash_fee: String(order.total_fee),
    transaction_id: order.transaction_id ?? '',
    out_trade_no: order.out_trade_no,
  });
  if (order.attach !== undefined) fields['attach'] = order.attach;
  fields['time_end'] = v2Compact(order.success_ms ?? 0);
  return v2Notification({
    event: 'V2.PAYMENT',
    target: order.notify_url,
    schedule: PAYMENT_SCHEDULE,
    fields,
    apiV2Key: merchant.apiV2Key ?? '',
    signType: order.sign_type,
  });
}

/** Contract notification (docs/wechatpay.md, *Pay-and-sign*). Always MD5-signed (WeChat's HMAC use here is undocumented). */
function contractNotification(c: PapContract, merchant: SandboxMerchant, change: 'ADD' | 'DELETE'): OutgoingNotification {
  const fields: Record<string, string> = {
    return_code: 'SUCCESS',
    return_msg: 'OK',
    result_code: 'SUCCESS',
    mch_id: c.mchid,
    contract_code: c.contract_code,
    plan_id: c.plan_id,
    openid: c.openid ?? '',
    change_type: change,
    operate_time: v2DateTime((change === 'ADD' ? c.signed_ms : c.terminated_ms) ?? 0),
    contract_id: c.contract_id ?? '',
    contract_expired_time: v2DateTime(c.expired_ms ?? 0),
    request_serial: c.request_serial,
  };
  if (change === 'DELETE') fields['contract_termination_mode'] = String(c.termination_mode ?? 2);
  return v2Notification({
    event: change === 'ADD' ? 'V2.CONTRACT.ADD' : 'V2.CONTRACT.DELETE',
    target: c.contract_notify_url,
    schedule: V2_CONTRACT_SCHEDULE,
    fields,
    apiV2Key: merchant.apiV2Key ?? '',
    signType: 'MD5',
  });
}

/** The person paid (MWEB page, or `/sandbox/act` by out_trade_no): payment + contract, two notifications. */
export function payContractOrder(ctx: SandboxContext, order: ContractOrder): ActionResult {
  const now = ctx.clock.now();
  refreshOrder(order, now);
  if (order.trade_state === 'SUCCESS') return actionFail(409, 'ORDERPAID', '该订单已支付');
  if (order.trade_state === 'CLOSED') return actionFail(409, 'ORDER_CLOSED', '订单已关闭');
  if (now > order.prepay_expires_ms) return actionFail(410, 'EXPIRED', 'prepay_id已过期（2小时）');
  const merchant = merchantById(ctx, order.mchid);
  const contract = ctx.state.papContracts.get(keyOf(order.mchid, order.contract_code));
  if (!merchant || !contract) return actionFail(404, 'NOT_FOUND', '订单不存在');
  order.trade_state = 'SUCCESS';
  order.transaction_id = transactionId();
  order.success_ms = now;
  order.openid = order.request_openid ?? openidFor(order.appid, SANDBOX_USER);
  if (order.contract_refused) {
    // Paid, not signed: only the payment notification goes out.
    ctx.notifier.send([paymentNotification(order, merchant)]);
    return actionOk('支付成功（未签约）', { out_trade_no: order.out_trade_no, transaction_id: order.transaction_id });
  }
  contract.state = 'SIGNED';
  contract.contract_id = papContractId(now);
  contract.openid = order.openid;
  contract.signed_ms = now;
  contract.expired_ms = now + CONTRACT_VALIDITY_MS;
  ctx.log('contractorder.paid', {
    mch_id: order.mchid,
    out_trade_no: order.out_trade_no,
    transaction_id: order.transaction_id,
    contract_id: contract.contract_id,
  });
  const group = [paymentNotification(order, merchant), contractNotification(contract, merchant, 'ADD')];
  if (ctx.faults.notifyOrder === 'reversed') group.reverse();
  ctx.notifier.send(group);
  return actionOk('支付成功，已签约', {
    out_trade_no: order.out_trade_no,
    transaction_id: order.transaction_id,
    contract_code: contract.contract_code,
    contract_id: contract.contract_id,
  });
}

/** The user (mode 2) or the merchant (mode 3) ends a papay contract: DELETE notification. */
export function terminatePapContract(ctx: SandboxContext, c: PapContract, mode = 2): ActionResult {
  if (c.state !== 'SIGNED') return actionFail(409, 'INVALID_STATE', c.state === 'TERMINATED' ? '协议已解约' : '协议未签约');
  const merchant = merchantById(ctx, c.mchid);
  if (!merchant) return actionFail(404, 'NOT_FOUND', '商户不存在');
  c.state = 'TERMINATED';
  c.terminated_ms = ctx.clock.now();
  c.termination_mode = mode;
  ctx.log('contractorder.contract_terminated', { mch_id: c.mchid, contract_code: c.contract_code, mode });
  ctx.notifier.send([contractNotification(c, merchant, 'DELETE')]);
  return actionOk('已解约', { contract_code: c.contract_code, contract_id: c.contract_id });
}
