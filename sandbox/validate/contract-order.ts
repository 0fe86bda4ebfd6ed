/** `POST /pay/contractorder` (APIv2) field rules (official page 支付中签约, docs/wechatpay.md). */
import { parseV2Compact } from '../clock';
import { isIPv4, notifyUrlIssue } from './fields';

export const TRADE_TYPES = ['JSAPI', 'NATIVE', 'APP', 'MWEB'] as const;
export type TradeType = (typeof TRADE_TYPES)[number];

export interface ContractOrderRequest {
  appid: string;
  mch_id: string;
  out_trade_no: string;
  body: string;
  notify_url: string;
  total_fee: number;
  spbill_create_ip: string;
  trade_type: TradeType;
  plan_id: string;
  contract_code: string;
  request_serial: string;
  contract_display_account: string;
  contract_notify_url: string;
  openid?: string;
  product_id?: string;
  attach?: string;
  device_info?: string;
  time_expire_ms?: number;
}

/** A business-level rejection: return_code SUCCESS, result_code FAIL. */
export class V2BusinessError extends Error {
  override name = 'V2BusinessError';

  constructor(
    readonly errCode: string,
    readonly errCodeDes: string,
  ) {
    super(`${errCode}: ${errCodeDes}`);
  }
}

const param = (des: string): V2BusinessError => new V2BusinessError('PARAM_ERROR', des);
const FOUR_BYTE = /[\u{10000}-\u{10FFFF}]/u;
const INT64_MAX = 9223372036854775807n;

interface Rule {
  required?: boolean;
  max?: number;
  pattern?: RegExp;
}

function read(fields: Record<string, string>, key: string, rule: Rule): string | undefined {
  const value = fields[key];
  if (value === undefined || value === '') {
    if (rule.required) throw param(`缺少参数${key}`);
    return undefined;
  }
  if (rule.max !== undefined && [...value].length > rule.max) throw param(`${key}参数长度有误，最长${rule.max}个字符`);
  if (rule.pattern && !rule.pattern.test(value)) throw param(`${key}参数格式错误`);
  return value;
}

export function validateContractOrder(fields: Record<string, string>): ContractOrderRequest {
  const appid = read(fields, 'appid', { required: true, max: 32 }) as string;
  const mchId = read(fields, 'mch_id', { required: true, max: 32 }) as string;
  const contractMchid = read(fields, 'contract_mchid', { required: true, max: 32 }) as string;
  const contractAppid = read(fields, 'contract_appid', { required: true, max: 32 }) as string;
  if (contractMchid !== mchId) throw param('contract_mchid必须与mch_id一致');
  if (contractAppid !== appid) throw param('contract_appid必须与appid一致');
  const outTradeNo = read(fields, 'out_trade_no', { required: true, pattern: /^[0-9A-Za-z_\-|*@]{1,32}$/ }) as string;
  const deviceInfo = read(fields, 'device_info', { max: 32 });
  read(fields, 'nonce_str', { required: true, max: 32 });
  const body = read(fields, 'body', { required: true, max: 127 }) as string;
  read(fields, 'detail', { max: 8192 });
  const attach = read(fields, 'attach', { max: 127 });
  const notifyUrl = read(fields, 'notify_url', { required: true, max: 256 }) as string;
  const notifyIssue = notifyUrlIssue(notifyUrl, true);
  if (notifyIssue) throw param(`notify_url参数错误：${notifyIssue}`);
  const totalFee = read(fields, 'total_fee', { required: true, pattern: /^[1-9]\d{0,9}$/ }) as string;
  if (Number(totalFee) > 2_147_483_647) throw param('total_fee参数错误');
  const ip = read(fields, 'spbill_create_ip', { required: true, max: 16 }) as string;
  if (!isIPv4(ip)) throw param('spbill_create_ip参数格式错误，仅支持IPv4');
  const timeStart = read(fields, 'time_start', { pattern: /^\d{14}$/ });
  if (timeStart !== undefined && parseV2Compact(timeStart) === undefined) throw param('time_start参数格式错误');
  const timeExpire = read(fields, 'time_expire', { pattern: /^\d{14}$/ });
  const timeExpireMs = timeExpire === undefined ? undefined : parseV2Compact(timeExpire);
  if (timeExpire !== undefined && timeExpireMs === undefined) throw param('time_expire参数格式错误');
  read(fields, 'goods_tag', { max: 32 });
  const tradeType = read(fields, 'trade_type', { required: true, max: 16 }) as string;
  if (!(TRADE_TYPES as readonly string[]).includes(tradeType)) throw param('trade_type参数错误，取值为JSAPI,NATIVE,APP,MWEB');
  const productId = read(fields, 'product_id', { max: 32 });
  if (tradeType === 'NATIVE' && productId === undefined) throw param('trade_type=NATIVE时，product_id为必填参数');
  const limitPay = read(fields, 'limit_pay', { max: 32 });
  if (limitPay !== undefined && limitPay !== 'no_credit') throw param('limit_pay参数错误');
  const openid = read(fields, 'openid', { max: 128 });
  if (tradeType === 'JSAPI' && openid === undefined) throw param('trade_type=JSAPI时，openid为必填参数');
  const planId = read(fields, 'plan_id', { required: true, pattern: /^\d{1,19}$/ }) as string;
  const contractCode = read(fields, 'contract_code', { required: true, pattern: /^[0-9A-Za-z]{1,64}$/ }) as string;
  const requestSerial = read(fields, 'request_serial', { required: true, pattern: /^[1-9]\d{0,18}$/ }) as string;
  if (BigInt(requestSerial) > INT64_MAX) throw param('request_serial超出int64范围');
  const display = read(fields, 'contract_display_account', { required: true, max: 64 }) as string;
  if (FOUR_BYTE.test(display)) throw param('contract_display_account不支持UTF8非3字节编码的字符');
  const contractNotifyUrl = read(fields, 'contract_notify_url', { required: true, max: 256 }) as string;
  const contractIssue = notifyUrlIssue(contractNotifyUrl, true);
  if (contractIssue) throw param(`contract_notify_url参数错误：${contractIssue}`);

  const out: ContractOrderRequest = {
    appid,
    mch_id: mchId,
    out_trade_no: outTradeNo,
    body,
    notify_url: notifyUrl,
    total_fee: Number(totalFee),
    spbill_create_ip: ip,
    trade_type: tradeType as TradeType,
    plan_id: planId,
    contract_code: contractCode,
    request_serial: requestSerial,
    contract_display_account: display,
    contract_notify_url: contractNotifyUrl,
  };
  if (openid !== undefined) out.openid = openid;
  if (productId !== undefined) out.product_id = productId;
  if (attach !== undefined) out.attach = attach;
  if (deviceInfo !== undefined) out.device_info = deviceInfo;
  if (timeExpireMs !== undefined) out.time_expire_ms = timeExpireMs;
  return out;
}
