/** Valid request bodies for the three APIs, with overrides. */
import { randomBytes } from 'node:crypto';
import type { FixtureMerchant, SandboxFixture } from '../../../../sandbox/index';
import { encryptSensitive, nonceStr } from './signer';

export const uniq = (prefix: string): string => `${prefix}${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;

export function h5Body(m: FixtureMerchant, notifyUrl: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    appid: m.appid,
    mchid: m.mchid,
    description: 'Image形象店-深圳腾大-QQ公仔',
    out_trade_no: uniq('H5'),
    attach: '自定义数据说明',
    notify_url: notifyUrl,
    amount: { total: 100, currency: 'CNY' },
    scene_info: { payer_client_ip: '14.23.150.211', h5_info: { type: 'Wap' } },
    ...extra,
  };
}

export const REAL_NAME = '张三丰';
export const ID_NUMBER = '11010119900307001X';

export function presignBody(
  fx: SandboxFixture,
  notifyUrl: string,
  extra: Record<string, unknown> = {},
  identity: { name?: string; id?: string } = {},
): Record<string, unknown> {
  const name = identity.name ?? REAL_NAME;
  return {
    appid: fx.partner.appid,
    plan_id: fx.partner.planId,
    out_contract_code: uniq('C'),
    display_name: '**丰',
    contract_notify_url: notifyUrl,
    repayment_day: 1,
    repayment_amount_limit: '10000',
    real_identity: {
      identity_type: 'REAL_IDENTITY_TYPE_ID_CARD',
      identity_id: encryptSensitive(fx.wechatpay.publicKeyPem, identity.id ?? ID_NUMBER),
      real_name: encryptSensitive(fx.wechatpay.publicKeyPem, name),
    },
    ...extra,
  };
}

export function contractOrderFields(
  m: FixtureMerchant,
  notifyUrl: string,
  contractNotifyUrl: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    appid: m.appid,
    mch_id: m.mchid,
    contract_mchid: m.mchid,
    contract_appid: m.appid,
    out_trade_no: uniq('CO'),
    nonce_str: nonceStr(),
    body: 'Ipad mini 16G 白色',
    notify_url: notifyUrl,
    total_fee: '888',
    spbill_create_ip: '123.12.12.123',
    trade_type: 'MWEB',
    plan_id: m.planId,
    contract_code: uniq('K'),
    request_serial: String(Date.now() * 1000 + Math.floor(Math.random() * 1000)),
    contract_display_account: '微信代扣',
    contract_notify_url: contractNotifyUrl,
    ...extra,
  };
}
