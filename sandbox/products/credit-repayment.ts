/**
 * Credit repayment (service provider, H5预签约): H5 presign, query, terminate, the first-repayment
 * deduct order, the Sign / Decline / terminate actions and the CREDIT_REPAYMENT.* notifications.
 *
 * Decision (WeChat does not document it; docs/wechatpay.md, readings): an out_contract_code is consumed by a
 * successful presign. A second presign with the same code answers 400 INVALID_REQUEST "out_contract_code已使用",
 * whatever happened since.
 */
import { rfc3339 } from '../clock';
import type { SandboxMerchant } from '../config';
import { actionFail, actionOk, merchantById, type ActionResult, type SandboxContext, type V3Result } from '../context';
import { oaepDecrypt, privateKeyOf } from '../crypto';
import { ApiError, invalidRequest, noAuth, paramError } from '../errors';
import { openidFor, pageToken, repaymentContractId, transactionId } from '../ids';
import { v3Notification } from '../notifications';
import { CREDIT_REPAYMENT_SCHEDULE, type OutgoingNotification } from '../notifier';
import { keyOf, type DeductOrder, type RepaymentContract } from '../state';
import { Fields } from '../validate/fields';
import type { JsonObject } from '../validate/json';
import { validatePresign } from '../validate/presign';
import { SANDBOX_USER } from './h5';

export const PRESIGN_TTL_MS = 10 * 60 * 1000;

export function redirectUrl(baseUrl: string, contract: RepaymentContract): string {
  return `${baseUrl}/credit-repayment/sign?presign_token=${encodeURIComponent(contract.token)}`;
}

export function presignH5(
  ctx: SandboxContext,
  merchant: SandboxMerchant,
  body: JsonObject,
  wechatpaySerial: string | undefined,
  baseUrl: string,
): V3Result {
  if (merchant.kind !== 'partner') throw noAuth('商户无权限：信贷还款H5预签约仅支持服务商');
  const keyId = ctx.config.wechatpayKey.id;
  if (wechatpaySerial === undefined || wechatpaySerial === '') {
    throw paramError('Wechatpay-Serial', undefined, '必填性规则校验失败，请求含加密敏感字段时必须传入微信支付公钥ID', {
      location: 'header',
      label: 'Wechatpay-Serial',
    });
  }
  if (wechatpaySerial !== keyId) {
    throw paramError('Wechatpay-Serial', wechatpaySerial, '微信支付公钥ID或平台证书序列号无效', {
      location: 'header',
      label: 'Wechatpay-Serial',
    });
  }
  const key = privateKeyOf(ctx.config.wechatpayKey.privateKeyPem);
  const req = validatePresign(body, (ciphertext) => oaepDecrypt(ciphertext, key));
  if (!merchant.appids.includes(req.appid)) throw new ApiError(400, 'APPID_MCHID_NOT_MATCH', 'AppID和服务商商户号不匹配');
  if (!(merchant.planIds ?? []).includes(req.plan_id)) {
    throw paramError('plan_id', req.plan_id, '模板ID不存在或不属于该服务商', { label: '模板ID' });
  }
  const key2 = keyOf(merchant.mchid, req.out_contract_code);
  if (ctx.state.repaymentContracts.has(key2)) throw invalidRequest('out_contract_code已使用');
  if (req.trade_info && ctx.state.deductTradeNos.has(keyOf(merchant.mchid, req.trade_info.out_trade_no))) {
    throw invalidRequest('trade_info.out_trade_no已使用');
  }

  const now = ctx.clock.now();
  const contract: RepaymentContract = {
    mchid: merchant.mchid,
    appid: req.appid,
    plan_id: req.plan_id,
    out_contract_code: req.out_contract_code,
    display_name: req.display_name,
    identity_type: req.identity_type,
    contract_notify_url: req.contract_notify_url,
    repayment_amount_limit: req.repayment_amount_limit,
    created_ms: now,
    token: pageToken(),
    token_expires_ms: now + PRESIGN_TTL_MS,
    status: 'PRESIGNED',
  };
  if (req.sub_mchid !== undefined) contract.sub_mchid = req.sub_mchid;
  if (req.sub_appid !== undefined) contract.sub_appid = req.sub_appid;
  if (req.repayment_day !== undefined) contract.repayment_day = req.repayment_day;
  if (req.trade_info) contract.trade_info = req.trade_info;
  if (req.jump_appid !== undefined) contract.jump_appid = req.jump_appid;
  ctx.state.repaymentContracts.set(key2, contract);
  ctx.state.tokens.set(contract.token, { kind: 'presign', key: key2 });
  if (req.trade_info) ctx.state.deductTradeNos.set(keyOf(merchant.mchid, req.trade_info.out_trade_no), req.out_contract_code);
  ctx.log('repayment.presigned', { mchid: merchant.mchid, out_contract_code: req.out_contract_code, plan_id: req.plan_id });
  return { status: 200, body: { redirect_url: redirectUrl(baseUrl, contract) } };
}

/** Query-contract object (docs/wechatpay.md, *Credit-repayment H5 presign*). */
export function contractObject(c: RepaymentContract): Record<string, unknown> {
  const state = c.status === 'TERMINATED' ? 'CONTRACT_STATE_TERMINATED' : 'CONTRACT_STATE_EFFECTIVE';
  const out: Record<string, unknown> = {
    contract_id: c.contract_id,
    plan_id: c.plan_id,
    out_contract_code: c.out_contract_code,
    display_name: c.display_name,
    contract_state: state,
  };
  if (c.signed_ms !== undefined) out['contract_signed_time'] = rfc3339(c.signed_ms);
  if (c.terminated_ms !== undefined) out['contract_terminated_time'] = rfc3339(c.terminated_ms);
  if (c.terminated_mode !== undefined) out['contract_terminated_mode'] = c.terminated_mode;
  if (c.termination_remark !== undefined) out['contract_termination_remark'] = c.termination_remark;
  if (c.repayment_day !== undefined) out['repayment_day'] = c.repayment_day;
  out['openid'] = c.openid;
  out['appid'] = c.appid;
  out['repayment_amount_limit'] = Number(c.repayment_amount_limit);
  return out;
}

/** Notification plaintext: the query-contract object plus mchid / sub_mchid / sub_appid. */
function contractNotificationResource(c: RepaymentContract): Record<string, unknown> {
  const out: Record<string, unknown> = { mchid: c.mchid };
  if (c.sub_mchid !== undefined) out['sub_mchid'] = c.sub_mchid;
  if (c.sub_appid !== undefined) out['sub_appid'] = c.sub_appid;
  return { ...out, ...contractObject(c) };
}

function findPartner(merchant: SandboxMerchant): void {
  if (merchant.kind !== 'partner') throw noAuth('商户无权限：信贷还款接口仅支持服务商');
}

export function queryContract(ctx: SandboxContext, merchant: SandboxMerchant, code: string): V3Result {
  findPartner(merchant);
  const c = ctx.state.repaymentContracts.get(keyOf(merchant.mchid, code));
  // a presign that was declined, expired or never acted on creates no contract (H5预签约 page)
  if (!c || c.status === 'PRESIGNED' || c.status === 'DECLINED') throw new ApiError(404, 'NOT_FOUND', '协议不存在');
  return { status: 200, body: contractObject(c) };
}

export function terminateByMerchant(ctx: SandboxContext, merchant: SandboxMerchant, body: JsonObject): V3Result {
  findPartner(merchant);
  const f = new Fields(body);
  f.onlyKnown(['out_contract_code', 'contract_termination_remark']);
  const code = f.string('out_contract_code', { label: '服务商签约协议号', required: true, max: 64 }) as string;
  const remark = f.string('contract_termination_remark', { label: '协议解约备注', required: true, max: 128 }) as string;
  const c = ctx.state.repaymentContracts.get(keyOf(merchant.mchid, code));
  if (!c || c.status === 'PRESIGNED' || c.status === 'DECLINED') throw new ApiError(404, 'NOT_FOUND', '协议不存在');
  if (c.status === 'TERMINATED') throw invalidRequest('协议已解约');
  terminate(ctx, c, 'TERMINATION_MODE_BY_MERCHANT', remark);
  return { status: 200, body: { contract_info: contractObject(c) } };
}

export function deductOrderObject(d: DeductOrder): Record<string, unknown> {
  const out: Record<string, unknown> = { out_trade_no: d.out_trade_no, ...(d.out_record_id ? { out_record_id: d.out_record_id } : {}), appid: d.appid };
  if (d.sub_appid !== undefined) out['sub_appid'] = d.sub_appid;
  out['openid'] = d.openid;
  out['contract_id'] = d.contract_id;
  out['order_state'] = d.order_state;
  out['deduct_amount'] = d.deduct_amount;
  out['pay_success_amount'] = d.pay_success_amount;
  out['description'] = d.description ?? '信贷还款';
  if (d.attach !== undefined) out['attach'] = d.attach;
  out['transaction_id'] = d.transaction_id;
  return out;
}

/** `CREDIT_REPAYMENT.DEDUCTION_PAY` for a repaid deduct order ("还款成功"), full or minimal as the fault says. */
export function deductionPayNotification(ctx: SandboxContext, merchant: SandboxMerchant, d: DeductOrder, target: string, subMchid?: string): OutgoingNotification {
  const now = d.success_ms ?? ctx.clock.now();
  return v3Notification({
    key: ctx.config.wechatpayKey,
    apiV3Key: merchant.apiV3Key,
    event: 'CREDIT_REPAYMENT.DEDUCTION_PAY',
    summary: '信贷还款还款成功',
    originalType: 'payscore',
    associatedData: '',
    resource:
      ctx.faults.notifyPayload === 'minimal'
        ? { out_trade_no: d.out_trade_no }
        : { mchid: d.mchid, ...(subMchid !== undefined ? { sub_mchid: subMchid } : {}), ...deductOrderObject(d), success_time: rfc3339(now) },
    target,
    schedule: CREDIT_REPAYMENT_SCHEDULE,
    nowMs: now,
    realNow: () => ctx.clock.real(),
  });
}

export function queryDeductOrder(ctx: SandboxContext, merchant: SandboxMerchant, outTradeNo: string): V3Result {
  findPartner(merchant);
  const d = ctx.state.deductOrders.get(keyOf(merchant.mchid, outTradeNo));
  if (!d) throw new ApiError(404, 'NOT_FOUND', '还款单不存在');
  return { status: 200, body: deductOrderObject(d) };
}

function contractNotification(ctx: SandboxContext, c: RepaymentContract, event: string, summary: string): OutgoingNotification | undefined {
  const merchant = merchantById(ctx, c.mchid);
  if (!merchant) return undefined;
  return v3Notification({
    key: ctx.config.wechatpayKey,
    apiV3Key: merchant.apiV3Key,
    event,
    summary,
    originalType: 'credit_repayment',
    associatedData: '',
    resource:
      ctx.faults.notifyPayload === 'minimal'
        ? { out_contract_code: c.out_contract_code, contract_id: c.contract_id }
        : contractNotificationResource(c),
    target: c.contract_notify_url,
    schedule: CREDIT_REPAYMENT_SCHEDULE,
    nowMs: ctx.clock.now(),
    realNow: () => ctx.clock.real(),
  });
}

function presignUsable(ctx: SandboxContext, c: RepaymentContract): ActionResult | undefined {
  if (c.status === 'DECLINED') return actionFail(409, 'INVALID_STATE', '用户已拒绝签约');
  if (c.status !== 'PRESIGNED') return actionFail(409, 'INVALID_STATE', '该协议已签约');
  if (ctx.clock.now() > c.token_expires_ms) return actionFail(410, 'EXPIRED', '预签约码已过期，请重新发起签约');
  return undefined;
}

/** The person pressed Sign: contract in force, SIGN_CONTRACT (+ first repayment DEDUCTION_PAY). */
export function signContract(ctx: SandboxContext, c: RepaymentContract): ActionResult {
  const refused = presignUsable(ctx, c);
  if (refused) return refused;
  const merchant = merchantById(ctx, c.mchid);
  if (!merchant) return actionFail(404, 'NOT_FOUND', '商户不存在');
  const now = ctx.clock.now();
  c.status = 'EFFECTIVE';
  c.contract_id = repaymentContractId(now);
  c.openid = openidFor(c.appid, SANDBOX_USER);
  c.signed_ms = now;
  ctx.log('repayment.signed', { mchid: c.mchid, out_contract_code: c.out_contract_code, contract_id: c.contract_id });

  const group: OutgoingNotification[] = [];
  const signed = contractNotification(ctx, c, 'CREDIT_REPAYMENT.SIGN_CONTRACT', '信贷还款签约成功通知');
  if (signed) group.push(signed);

  if (c.trade_info) {
    const d: DeductOrder = {
      mchid: c.mchid,
      appid: c.appid,
      out_trade_no: c.trade_info.out_trade_no,
      out_contract_code: c.out_contract_code,
      contract_id: c.contract_id,
      openid: c.openid,
      order_state: 'DEDUCT_ORDER_STATE_PAY_SUCCESS',
      deduct_amount: c.trade_info.deduct_amount,
      pay_success_amount: c.trade_info.deduct_amount,
      transaction_id: transactionId(),
      success_ms: now,
    };
    if (c.sub_appid !== undefined) d.sub_appid = c.sub_appid;
    if (c.trade_info.description !== undefined) d.description = c.trade_info.description;
    if (c.trade_info.attach !== undefined) d.attach = c.trade_info.attach;
    ctx.state.deductOrders.set(keyOf(c.mchid, d.out_trade_no), d);
    if (c.trade_info.notify_url !== undefined) {
      group.push(deductionPayNotification(ctx, merchant, d, c.trade_info.notify_url, c.sub_mchid));
    }
  }
  if (ctx.faults.notifyOrder === 'reversed') group.reverse();
  ctx.notifier.send(group);
  return actionOk('签约成功', { out_contract_code: c.out_contract_code, contract_id: c.contract_id });
}

/** The person pressed Decline: no contract, no notification, the code stays used. */
export function declineContract(ctx: SandboxContext, c: RepaymentContract): ActionResult {
  const refused = presignUsable(ctx, c);
  if (refused) return refused;
  c.status = 'DECLINED';
  ctx.log('repayment.declined', { mchid: c.mchid, out_contract_code: c.out_contract_code });
  return actionOk('已拒绝签约', { out_contract_code: c.out_contract_code });
}

function terminate(ctx: SandboxContext, c: RepaymentContract, mode: string, remark?: string): void {
  c.status = 'TERMINATED';
  c.terminated_ms = ctx.clock.now();
  c.terminated_mode = mode;
  if (remark !== undefined) c.termination_remark = remark;
  ctx.log('repayment.terminated', { mchid: c.mchid, out_contract_code: c.out_contract_code, mode });
  const n = contractNotification(ctx, c, 'CREDIT_REPAYMENT.TERMINATE_CONTRACT', '信贷还款解约成功通知');
  if (n) ctx.notifier.send([n]);
}

/** The user terminates in WeChat (`/sandbox/act` action terminate). */
export function terminateByUser(ctx: SandboxContext, c: RepaymentContract): ActionResult {
  if (c.status !== 'EFFECTIVE') return actionFail(409, 'INVALID_STATE', c.status === 'TERMINATED' ? '协议已解约' : '协议未生效');
  terminate(ctx, c, 'TERMINATION_MODE_BY_USER', '用户解约');
  return actionOk('已解约', { out_contract_code: c.out_contract_code, contract_id: c.contract_id });
}
