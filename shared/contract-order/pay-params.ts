import { createNonce, signV2 } from '../wechatpay';
import type { TradeType } from './schema';

/** What a JSAPI page (WeixinJSBridge `getBrandWCPayRequest` / `wx.chooseWXPay` / `wx.requestPayment`) needs. */
export interface JsapiPayParams {
  appId: string;
  timeStamp: string;
  nonceStr: string;
  package: string;
  signType: 'MD5';
  paySign: string;
}

/** What the APP SDK (`PayReq`) needs. */
export interface AppPayParams {
  appid: string;
  partnerid: string;
  prepayid: string;
  package: 'Sign=WXPay';
  noncestr: string;
  timestamp: string;
  sign: string;
}

export type PayParams = JsapiPayParams | AppPayParams;

export interface PayParamsInput {
  tradeType: TradeType;
  appid: string;
  mchid: string;
  prepayId: string;
  apiV2Key: string;
  /** Epoch milliseconds. */
  now: number;
  nonce?: string;
}

/**
 * The signed parameters a client needs to open WeChat's cashier for a v2 prepay_id, signed with the APIv2 key by the
 * same rule as every v2 sign (names in byte order, `&key=…`, MD5). NATIVE (a QR code) and MWEB (a link) need none.
 */
export function payParams(input: PayParamsInput): PayParams | undefined {
  const timestamp = String(Math.floor(input.now / 1000));
  const nonce = input.nonce ?? createNonce();
  if (input.tradeType === 'JSAPI') {
    const unsigned = {
      appId: input.appid,
      timeStamp: timestamp,
      nonceStr: nonce,
      package: `prepay_id=${input.prepayId}`,
      signType: 'MD5' as const,
    };
    return { ...unsigned, paySign: signV2(unsigned, input.apiV2Key, 'MD5') };
  }
  if (input.tradeType === 'APP') {
    const unsigned = {
      appid: input.appid,
      partnerid: input.mchid,
      prepayid: input.prepayId,
      package: 'Sign=WXPay' as const,
      noncestr: nonce,
      timestamp,
    };
    return { ...unsigned, sign: signV2(unsigned, input.apiV2Key, 'MD5') };
  }
  return undefined;
}
