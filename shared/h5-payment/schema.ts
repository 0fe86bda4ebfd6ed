import * as v from 'valibot';
import { bool, count, fen, ipAddress, pattern, rfc3339, text } from '../validation/fields';

/** Fields the service fills itself; a caller sending them is told so instead of being silently overridden. */
const ours = () => v.optional(v.never('is set by the service and must not be sent'));

const goodsDetail = v.strictObject({
  merchant_goods_id: text(32),
  wechatpay_goods_id: v.optional(text(32)),
  goods_name: v.optional(text(256)),
  quantity: count(),
  unit_price: fen({ min: 0 }),
});

/** `scene_info.h5_info.type`: the kind of page the payer is on (seed 001, WeChat's H5 order). */
export const H5_TYPES = ['Wap', 'iOS', 'Android'] as const;

export const OUT_TRADE_NO = /^[0-9A-Za-z_\-|*]{6,32}$/;

/** `POST /h5-orders`: WeChat's H5 order fields (seed 001) minus the ones the service owns. */
export const createH5OrderSchema = v.strictObject({
  appid: v.optional(text(32)),
  mchid: ours(),
  notify_url: ours(),
  description: text(127),
  out_trade_no: pattern(OUT_TRADE_NO, 'must be 6-32 characters of 0-9 A-Z a-z _ - | *'),
  time_expire: v.optional(rfc3339()),
  attach: v.optional(text(128)),
  goods_tag: v.optional(text(32)),
  support_fapiao: v.optional(bool()),
  amount: v.strictObject({
    total: fen(),
    currency: v.optional(v.literal('CNY', 'must be CNY')),
  }),
  detail: v.optional(
    v.strictObject({
      cost_price: v.optional(fen()),
      invoice_id: v.optional(text(32)),
      goods_detail: v.optional(
        v.pipe(v.array(goodsDetail, 'must be an array'), v.minLength(1, 'must have at least 1 item'), v.maxLength(6000, 'must have at most 6000 items')),
      ),
    }),
  ),
  scene_info: v.strictObject({
    payer_client_ip: ipAddress(),
    device_id: v.optional(text(32)),
    store_info: v.optional(
      v.strictObject({
        id: text(32),
        name: v.optional(text(256)),
        area_code: v.optional(text(32)),
        address: v.optional(text(512)),
      }),
    ),
    h5_info: v.strictObject({
      type: v.picklist(H5_TYPES, `must be one of ${H5_TYPES.join(', ')}`),
      app_name: v.optional(text(64)),
      app_url: v.optional(text(128)),
      bundle_id: v.optional(text(128)),
      package_name: v.optional(text(128)),
    }),
  }),
  settle_info: v.optional(v.strictObject({ profit_sharing: v.optional(bool()) })),
});

export type CreateH5OrderInput = v.InferOutput<typeof createH5OrderSchema>;
