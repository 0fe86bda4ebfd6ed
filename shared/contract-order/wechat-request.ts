import type { CreateContractOrderInput } from './schema';

export const CONTRACT_ORDER_PATH = '/pay/contractorder';
export const PAYMENT_NOTIFY_PATH = '/notify/contract-order/payment';
export const CONTRACT_NOTIFY_PATH = '/notify/contract-order/contract';

/** The contractorder parameters before the client adds `nonce_str` and `sign`: every value as WeChat reads it. */
export type ContractOrderParams = Readonly<Record<string, string | undefined>>;

/**
 * What is sent to `/pay/contractorder`, minus `nonce_str` and `sign` (the v2 client adds both). `contract_mchid` and
 * `contract_appid` must equal `mch_id` and `appid` (seed 002); the notify URLs are always our own routes.
 */
export function contractOrderParams(
  input: CreateContractOrderInput,
  merchant: { mchid: string; appid: string },
  publicBaseUrl: string,
): ContractOrderParams {
  return {
    appid: merchant.appid,
    mch_id: merchant.mchid,
    contract_mchid: merchant.mchid,
    contract_appid: merchant.appid,
    out_trade_no: input.out_trade_no,
    device_info: input.device_info,
    body: input.body,
    detail: input.detail,
    attach: input.attach,
    notify_url: `${publicBaseUrl}${PAYMENT_NOTIFY_PATH}`,
    total_fee: String(input.total_fee),
    spbill_create_ip: input.spbill_create_ip,
    time_start: input.time_start,
    time_expire: input.time_expire,
    goods_tag: input.goods_tag,
    trade_type: input.trade_type,
    product_id: input.product_id,
    limit_pay: input.limit_pay,
    openid: input.openid,
    plan_id: String(input.plan_id),
    contract_code: input.contract_code,
    request_serial: input.request_serial,
    contract_display_account: input.contract_display_account,
    contract_notify_url: `${publicBaseUrl}${CONTRACT_NOTIFY_PATH}`,
  };
}

/**
 * The normalised request a fingerprint is taken over: names in byte order, absent values dropped, so the same
 * request always gives the same text whatever order the caller's JSON had.
 */
export function canonicalParams(params: ContractOrderParams): string {
  const entries = Object.entries(params)
    .filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== '')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(entries);
}
