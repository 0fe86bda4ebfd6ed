/** `POST /v3/pay/transactions/h5` body rules (official page H5下单). */
import { parseRfc3339 } from '../clock';
import type { JsonObject } from './json';
import { Fields, isIPAny, notifyUrlIssue } from './fields';

export interface H5OrderRequest {
  appid: string;
  mchid: string;
  description: string;
  out_trade_no: string;
  time_expire?: string;
  time_expire_ms?: number;
  attach?: string;
  notify_url: string;
  total: number;
  currency: string;
  payer_client_ip: string;
  device_id?: string;
  h5_type: string;
}

export const OUT_TRADE_NO = /^[0-9A-Za-z_\-|*]{6,32}$/;
export const H5_TYPES = ['iOS', 'Android', 'Wap'] as const;

export function validateH5Order(body: JsonObject): H5OrderRequest {
  const f = new Fields(body);
  f.onlyKnown([
    'appid', 'mchid', 'description', 'out_trade_no', 'time_expire', 'attach', 'notify_url', 'goods_tag',
    'support_fapiao', 'amount', 'detail', 'scene_info', 'settle_info',
  ]);
  const appid = f.string('appid', { label: '公众账号ID', required: true, max: 32 }) as string;
  const mchid = f.string('mchid', { label: '商户号', required: true, max: 32 }) as string;
  const description = f.string('description', { label: '商品描述', required: true, max: 127 }) as string;
  const outTradeNo = f.string('out_trade_no', {
    label: '商户订单号',
    required: true,
    pattern: OUT_TRADE_NO,
    patternIssue: '字符串规则校验失败，要求6-32个字符，只能是数字、大小写字母_-|*',
  }) as string;
  const timeExpire = f.string('time_expire', { label: '交易结束时间', max: 64 });
  let timeExpireMs: number | undefined;
  if (timeExpire !== undefined) {
    timeExpireMs = parseRfc3339(timeExpire);
    f.check('time_expire', timeExpireMs !== undefined, timeExpire, '时间格式错误，应遵循rfc3339标准格式', '交易结束时间');
  }
  const attach = f.string('attach', { label: '商户数据包', max: 128 });
  const notifyUrl = f.string('notify_url', { label: '商户回调地址', required: true, max: 255 }) as string;
  const urlIssue = notifyUrlIssue(notifyUrl, false);
  f.check('notify_url', urlIssue === undefined, notifyUrl, urlIssue ?? '', '商户回调地址');
  f.string('goods_tag', { label: '订单优惠标记', max: 32 });
  f.boolean('support_fapiao', { label: '电子发票入口开放标识' });

  const amount = f.object('amount', { label: '订单金额', required: true }) as Fields;
  amount.onlyKnown(['total', 'currency']);
  const total = amount.integer('total', { label: '总金额', required: true, min: 1, max: 2_147_483_647 }) as number;
  const currency = amount.string('currency', { label: '货币类型', max: 16, oneOf: ['CNY'] }) ?? 'CNY';

  const detail = f.object('detail', { label: '优惠功能' });
  if (detail) {
    detail.onlyKnown(['cost_price', 'invoice_id', 'goods_detail']);
    detail.integer('cost_price', { label: '订单原价', min: 0 });
    detail.string('invoice_id', { label: '商品小票ID', max: 32 });
    for (const g of detail.objectArray('goods_detail', { label: '单品列表', min: 1, max: 6000 }) ?? []) {
      g.onlyKnown(['merchant_goods_id', 'wechatpay_goods_id', 'goods_name', 'quantity', 'unit_price']);
      g.string('merchant_goods_id', { label: '商户侧商品编码', required: true, max: 32 });
      g.string('wechatpay_goods_id', { label: '微信支付商品编码', max: 32 });
      g.string('goods_name', { label: '商品名称', max: 256 });
      g.integer('quantity', { label: '商品数量', required: true, min: 1 });
      g.integer('unit_price', { label: '商品单价', required: true, min: 0 });
    }
  }

  const scene = f.object('scene_info', { label: '场景信息', required: true }) as Fields;
  scene.onlyKnown(['payer_client_ip', 'device_id', 'store_info', 'h5_info']);
  const ip = scene.string('payer_client_ip', { label: '用户终端IP', required: true, max: 45 }) as string;
  scene.check('payer_client_ip', isIPAny(ip), ip, '格式错误，应为IPv4或IPv6地址', '用户终端IP');
  const deviceId = scene.string('device_id', { label: '商户端设备号', max: 32 });
  const store = scene.object('store_info', { label: '商户门店信息' });
  if (store) {
    store.onlyKnown(['id', 'name', 'area_code', 'address']);
    store.string('id', { label: '门店编号', required: true, max: 32 });
    store.string('name', { label: '门店名称', max: 256 });
    store.string('area_code', { label: '地区编码', max: 32 });
    store.string('address', { label: '详细地址', max: 512 });
  }
  const h5 = scene.object('h5_info', { label: 'H5场景信息', required: true }) as Fields;
  h5.onlyKnown(['type', 'app_name', 'app_url', 'bundle_id', 'package_name']);
  const h5Type = h5.string('type', { label: '场景类型', required: true, max: 32, oneOf: H5_TYPES }) as string;
  h5.string('app_name', { label: '应用名称', max: 64 });
  h5.string('app_url', { label: '网站URL', max: 128 });
  h5.string('bundle_id', { label: 'iOS平台BundleID', max: 128 });
  h5.string('package_name', { label: 'Android平台PackageName', max: 128 });

  const settle = f.object('settle_info', { label: '结算信息' });
  if (settle) {
    settle.onlyKnown(['profit_sharing']);
    settle.boolean('profit_sharing', { label: '是否指定分账' });
  }

  const out: H5OrderRequest = {
    appid,
    mchid,
    description,
    out_trade_no: outTradeNo,
    notify_url: notifyUrl,
    total,
    currency,
    payer_client_ip: ip,
    h5_type: h5Type,
  };
  if (timeExpire !== undefined) out.time_expire = timeExpire;
  if (timeExpireMs !== undefined) out.time_expire_ms = timeExpireMs;
  if (attach !== undefined) out.attach = attach;
  if (deviceId !== undefined) out.device_id = deviceId;
  return out;
}
