/**
 * `POST /v3/credit-repayment/partner/contracts/h5-presign` body rules (official page H5预签约).
 * The decrypted real name and ID number never leave this function: only the mask is returned.
 */
import { paramError } from '../errors';
import type { JsonObject } from './json';
import { Fields, notifyUrlIssue, POSITIVE_INT_STRING } from './fields';

export const IDENTITY_TYPES = ['REAL_IDENTITY_TYPE_ID_CARD', 'REAL_IDENTITY_TYPE_INVALID'] as const;
export const CONTRACT_CODE = /^[0-9A-Za-z]{1,64}$/;
const TRADE_NO = /^[0-9A-Za-z]{1,32}$/;
const ID_CARD = /^(\d{15}|\d{17}[\dXx])$/;

export interface PresignRequest {
  appid: string;
  plan_id: string;
  out_contract_code: string;
  display_name: string;
  contract_notify_url: string;
  repayment_day?: number;
  repayment_amount_limit: string;
  sub_mchid?: string;
  sub_appid?: string;
  identity_type: string;
  trade_info?: {
    out_trade_no: string;
    deduct_amount: string;
    description?: string;
    attach?: string;
    notify_url?: string;
  };
  jump_appid?: string;
}

/**
 * Mask rule of the H5预签约 page: keep the last character, replace all others with `*`;
 * names longer than 4 characters become `***` + last character.
 */
export function maskName(name: string): string {
  const chars = [...name];
  const last = chars[chars.length - 1] ?? '';
  if (chars.length > 4) return `***${last}`;
  return `${'*'.repeat(Math.max(0, chars.length - 1))}${last}`;
}

export function validatePresign(body: JsonObject, decrypt: (ciphertext: string) => string): PresignRequest {
  const f = new Fields(body);
  f.onlyKnown([
    'appid', 'plan_id', 'out_contract_code', 'display_name', 'contract_notify_url', 'repayment_day',
    'repayment_amount_limit', 'sub_mchid', 'sub_appid', 'real_identity', 'trade_info', 'jump_info',
  ]);
  const appid = f.string('appid', { label: '商户AppID', required: true, max: 32 }) as string;
  const planId = f.string('plan_id', { label: '模板ID', required: true, max: 64 }) as string;
  const code = f.string('out_contract_code', {
    label: '服务商签约协议号',
    required: true,
    pattern: CONTRACT_CODE,
    patternIssue: '字符串规则校验失败，最长64个字符，只能是数字、大小写字母的组合',
  }) as string;
  const displayName = f.string('display_name', { label: '用户展示名称', required: true, max: 64 }) as string;
  const notifyUrl = f.string('contract_notify_url', { label: '签约结果通知地址', required: true, max: 256 }) as string;
  const urlIssue = notifyUrlIssue(notifyUrl, false);
  f.check('contract_notify_url', urlIssue === undefined, notifyUrl, urlIssue ?? '', '签约结果通知地址');
  const repaymentDay = f.integer('repayment_day', { label: '还款日', min: 1, max: 31 });
  const limit = f.string('repayment_amount_limit', {
    label: '还款金额上限',
    required: true,
    pattern: POSITIVE_INT_STRING,
    patternIssue: '格式错误，应为以分为单位的正整数字符串',
  }) as string;
  const subMchid = f.string('sub_mchid', { label: '子商户号', max: 32, pattern: /^\d+$/ });
  const subAppid = f.string('sub_appid', { label: '子商户AppID', max: 32 });
  f.check('sub_appid', subAppid === undefined || subMchid !== undefined, subAppid, '传入子商户AppID时必须传入子商户号', '子商户AppID');

  const identity = f.object('real_identity', { label: '用户实名信息', required: true }) as Fields;
  identity.onlyKnown(['identity_type', 'identity_id', 'real_name']);
  const identityType = identity.string('identity_type', {
    label: '实名验证类型',
    required: true,
    oneOf: IDENTITY_TYPES,
  }) as string;
  const idCipher = identity.string('identity_id', { label: '加密后的自然人证件号码', required: true, max: 512 }) as string;
  const nameCipher = identity.string('real_name', { label: '加密后的自然人姓名', required: true, max: 512 }) as string;

  const decryptOrFail = (field: string, label: string, ciphertext: string): string => {
    try {
      return decrypt(ciphertext);
    } catch {
      throw paramError(`real_identity.${field}`, undefined, '解密失败，请使用Wechatpay-Serial对应的微信支付公钥以RSA-OAEP加密', {
        label,
      });
    }
  };
  const idNumber = decryptOrFail('identity_id', '加密后的自然人证件号码', idCipher);
  if (identityType === 'REAL_IDENTITY_TYPE_ID_CARD' && !ID_CARD.test(idNumber)) {
    throw paramError('real_identity.identity_id', undefined, '证件号码格式错误', { label: '加密后的自然人证件号码' });
  }
  const realName = decryptOrFail('real_name', '加密后的自然人姓名', nameCipher);
  if (realName.trim() === '') {
    throw paramError('real_identity.real_name', undefined, '姓名不能为空', { label: '加密后的自然人姓名' });
  }
  const mask = maskName(realName);
  // the message states the rule, not the expected mask: nothing derived from the name goes back or into logs
  f.check(
    'display_name',
    displayName === mask,
    displayName,
    '与实名姓名的掩码不一致（只保留最后一个字符，其余用*替代；姓名超过4个字符时为***加最后一个字符）',
    '用户展示名称',
  );

  let tradeInfo: PresignRequest['trade_info'];
  const trade = f.object('trade_info', { label: '交易信息' });
  if (trade) {
    trade.onlyKnown(['out_trade_no', 'deduct_amount', 'description', 'attach', 'notify_url']);
    const outTradeNo = trade.string('out_trade_no', {
      label: '商户侧交易单号',
      required: true,
      pattern: TRADE_NO,
      patternIssue: '字符串规则校验失败，最长32个字符，只能是数字、大小写字母',
    }) as string;
    const amount = trade.string('deduct_amount', {
      label: '还款金额',
      required: true,
      pattern: POSITIVE_INT_STRING,
      patternIssue: '格式错误，应为以分为单位的正整数字符串',
    }) as string;
    trade.check('deduct_amount', BigInt(amount) <= BigInt(limit), amount, '还款金额不能大于还款金额上限', '还款金额');
    const description = trade.string('description', { label: '产品描述', max: 127 });
    const attach = trade.string('attach', { label: '商户数据包', max: 128 });
    const tradeNotify = trade.string('notify_url', { label: '商户回调地址', max: 256 });
    if (tradeNotify !== undefined) {
      const issue = notifyUrlIssue(tradeNotify, false);
      trade.check('notify_url', issue === undefined, tradeNotify, issue ?? '', '商户回调地址');
    }
    tradeInfo = { out_trade_no: outTradeNo, deduct_amount: amount };
    if (description !== undefined) tradeInfo.description = description;
    if (attach !== undefined) tradeInfo.attach = attach;
    if (tradeNotify !== undefined) tradeInfo.notify_url = tradeNotify;
  }

  let jumpAppid: string | undefined;
  const jump = f.object('jump_info', { label: '跳转控制信息' });
  if (jump) {
    jump.onlyKnown(['jump_appid']);
    jumpAppid = jump.string('jump_appid', { label: '签约完后要跳转到的应用AppID', max: 32 });
  }

  const out: PresignRequest = {
    appid,
    plan_id: planId,
    out_contract_code: code,
    display_name: displayName,
    contract_notify_url: notifyUrl,
    repayment_amount_limit: limit,
    identity_type: identityType,
  };
  if (repaymentDay !== undefined) out.repayment_day = repaymentDay;
  if (subMchid !== undefined) out.sub_mchid = subMchid;
  if (subAppid !== undefined) out.sub_appid = subAppid;
  if (tradeInfo) out.trade_info = tradeInfo;
  if (jumpAppid !== undefined) out.jump_appid = jumpAppid;
  return out;
}
