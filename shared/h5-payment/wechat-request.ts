import type { CreateH5OrderInput } from './schema';

export const H5_ORDER_PATH = '/v3/pay/transactions/h5';

/**
 * The exact JSON sent to WeChat. The validated input already has its keys in schema order (valibot rebuilds
 * objects from the schema), so the same request always serialises to the same bytes: that is what lets an
 * expired `h5_url` be renewed with an identical body, and what the fingerprint is taken over.
 */
export function h5OrderBody(input: CreateH5OrderInput, merchant: { mchid: string; appid: string }, notifyUrl: string): string {
  const { appid, mchid: _mchid, notify_url: _notify, amount, ...rest } = input;
  const body = {
    appid: appid ?? merchant.appid,
    mchid: merchant.mchid,
    description: rest.description,
    out_trade_no: rest.out_trade_no,
    time_expire: rest.time_expire,
    attach: rest.attach,
    notify_url: notifyUrl,
    goods_tag: rest.goods_tag,
    support_fapiao: rest.support_fapiao,
    amount: { total: amount.total, currency: amount.currency ?? 'CNY' },
    detail: rest.detail,
    scene_info: rest.scene_info,
    settle_info: rest.settle_info,
  };
  // JSON.stringify drops undefined members, so optional fields never go out as null (which WeChat refuses).
  return JSON.stringify(body);
}
