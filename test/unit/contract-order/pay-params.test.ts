import { createHash } from 'node:crypto';
import { Hash } from 'wechatpay-axios-plugin';
import { describe, expect, it } from 'vitest';
import { payParams, type AppPayParams, type JsapiPayParams } from '../../../shared/contract-order/pay-params';
import { verifyV2 } from '../../../shared/wechatpay';

const KEY = '192006250b4c09247ec02edce69f6a2d';
const common = {
  appid: 'wxd930ea5d5a258f4f',
  mchid: '10000100',
  prepayId: 'wx201410272009395522657a690389285100',
  apiV2Key: KEY,
  now: 1_414_411_779_123,
  nonce: 'ibuaiVcKdpRxkhJA',
};

describe('pay_params for opening the cashier', () => {
  it('JSAPI: appId, timeStamp (seconds), nonceStr, package=prepay_id=…, signType=MD5, paySign', () => {
    const params = payParams({ ...common, tradeType: 'JSAPI' }) as JsapiPayParams;
    expect(Object.keys(params)).toEqual(['appId', 'timeStamp', 'nonceStr', 'package', 'signType', 'paySign']);
    expect(params).toMatchObject({
      appId: common.appid,
      timeStamp: '1414411779',
      nonceStr: common.nonce,
      package: `prepay_id=${common.prepayId}`,
      signType: 'MD5',
    });
    // Written out by hand from the v2 rule: names in ASCII order (capitals first), raw values, &key=, MD5, upper-case.
    const text =
      `appId=${common.appid}&nonceStr=${common.nonce}&package=prepay_id=${common.prepayId}&signType=MD5&timeStamp=1414411779&key=${KEY}`;
    expect(params.paySign).toBe(createHash('md5').update(text).digest('hex').toUpperCase());
    // And by an independent implementation.
    const { paySign, ...signed } = params;
    expect(paySign).toBe(Hash.sign('MD5', signed, KEY));
  });

  it('APP: appid, partnerid, prepayid, package=Sign=WXPay, noncestr, timestamp, sign', () => {
    const params = payParams({ ...common, tradeType: 'APP' }) as AppPayParams;
    expect(Object.keys(params)).toEqual(['appid', 'partnerid', 'prepayid', 'package', 'noncestr', 'timestamp', 'sign']);
    expect(params).toMatchObject({
      appid: common.appid,
      partnerid: common.mchid,
      prepayid: common.prepayId,
      package: 'Sign=WXPay',
      noncestr: common.nonce,
      timestamp: '1414411779',
    });
    const text = `appid=${common.appid}&noncestr=${common.nonce}&package=Sign=WXPay&partnerid=${common.mchid}&prepayid=${common.prepayId}&timestamp=1414411779&key=${KEY}`;
    expect(params.sign).toBe(createHash('md5').update(text).digest('hex').toUpperCase());
    const { sign, ...signed } = params;
    expect(sign).toBe(Hash.sign('MD5', signed, KEY));
    // Our own verifier accepts it as any v2 sign.
    expect(verifyV2(params, KEY)).toBe('MD5');
  });

  it('NATIVE and MWEB need none (a QR code and a link)', () => {
    expect(payParams({ ...common, tradeType: 'NATIVE' })).toBeUndefined();
    expect(payParams({ ...common, tradeType: 'MWEB' })).toBeUndefined();
  });

  it('a fresh 32-character nonce each time unless one is given', () => {
    const a = payParams({ ...common, nonce: undefined, tradeType: 'JSAPI' }) as JsapiPayParams;
    const b = payParams({ ...common, nonce: undefined, tradeType: 'JSAPI' }) as JsapiPayParams;
    expect(a.nonceStr).toMatch(/^[0-9A-Za-z]{32}$/);
    expect(a.nonceStr).not.toBe(b.nonceStr);
    expect(a.paySign).not.toBe(b.paySign);
  });

  it('a different key gives a different sign', () => {
    const a = payParams({ ...common, tradeType: 'APP' }) as AppPayParams;
    const b = payParams({ ...common, apiV2Key: 'x'.repeat(32), tradeType: 'APP' }) as AppPayParams;
    expect(a.sign).not.toBe(b.sign);
  });
});
