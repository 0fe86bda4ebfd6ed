import { createCipheriv, createSign, generateKeyPairSync, randomBytes } from 'node:crypto';
import { Hash } from 'wechatpay-axios-plugin';

/**
 * Builds WeChat-style v3 notifications straight from docs/wechatpay.md with node:crypto, so tests can
 * send exact copies, tampered copies and forgeries to a notify handler. Independent of shared/wechatpay.
 */
export interface NotificationKeys {
  serial: string;
  privateKeyPem: string;
  apiV3Key: string;
}

export interface BuiltNotification {
  body: string;
  headers: Record<string, string>;
}

export function encryptResource(plaintext: string, apiV3Key: string, associatedData: string) {
  const nonce = randomBytes(6).toString('hex');
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(apiV3Key, 'utf8'), Buffer.from(nonce, 'utf8'));
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]).toString('base64');
  return { algorithm: 'AEAD_AES_256_GCM', ciphertext, associated_data: associatedData, nonce };
}

export function signHeaders(body: string, keys: Pick<NotificationKeys, 'serial' | 'privateKeyPem'>, timestamp = Math.floor(Date.now() / 1000)) {
  const nonce = randomBytes(16).toString('hex').toUpperCase();
  const signature = createSign('RSA-SHA256').update(`${timestamp}\n${nonce}\n${body}\n`).sign(keys.privateKeyPem, 'base64');
  return {
    'wechatpay-timestamp': String(timestamp),
    'wechatpay-nonce': nonce,
    'wechatpay-signature': signature,
    'wechatpay-serial': keys.serial,
    'wechatpay-signature-type': 'WECHATPAY2-SHA256-RSA2048',
    'content-type': 'application/json',
  };
}

export function buildNotification(
  keys: NotificationKeys,
  options: { eventType: string; resource: unknown; associatedData?: string; originalType?: string; id?: string; timestamp?: number },
): BuiltNotification {
  const envelope = {
    id: options.id ?? `EV-${randomBytes(8).toString('hex')}`,
    create_time: new Date().toISOString().replace(/\.\d+Z$/, '+00:00'),
    resource_type: 'encrypt-resource',
    event_type: options.eventType,
    summary: 'test',
    resource: {
      original_type: options.originalType ?? 'transaction',
      ...encryptResource(JSON.stringify(options.resource), keys.apiV3Key, options.associatedData ?? 'transaction'),
    },
  };
  const body = JSON.stringify(envelope);
  return { body, headers: signHeaders(body, keys, options.timestamp) };
}

export function strangerKey(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

/** An APIv2 sign computed by an independent implementation (wechatpay-axios-plugin), as WeChat would. */
export function v2Sign(fields: Record<string, string>, key: string, signType: 'MD5' | 'HMAC-SHA256' = 'MD5'): string {
  return Hash.sign(signType, fields, key) as string;
}

/** The fields as WeChat's v2 XML, unsigned (for tampering with the sign itself). */
export function v2XmlRaw(fields: Record<string, string>): string {
  return `<xml>${Object.entries(fields)
    .map(([k, v]) => `<${k}><![CDATA[${v}]]></${k}>`)
    .join('')}</xml>`;
}

/** A v2 notification as WeChat sends it: the fields plus their sign, as XML. */
export function v2Xml(fields: Record<string, string>, key: string, signType: 'MD5' | 'HMAC-SHA256' = 'MD5'): string {
  return v2XmlRaw({ ...fields, sign: v2Sign(fields, key, signType) });
}

/** The ids a WeChat event binds to our merchant. */
export interface MerchantIds {
  appid: string;
  mchid: string;
}

/** WeChat's TRANSACTION.SUCCESS resource (docs/wechatpay.md, *H5 order*) for one of our H5 orders. */
export function paidTransaction(merchant: MerchantIds, outTradeNo: string, total = 100) {
  return {
    appid: merchant.appid,
    mchid: merchant.mchid,
    out_trade_no: outTradeNo,
    transaction_id: `4200${randomBytes(10).toString('hex')}`,
    trade_type: 'MWEB',
    trade_state: 'SUCCESS',
    trade_state_desc: '支付成功',
    bank_type: 'OTHERS',
    success_time: '2026-11-23T10:34:56+08:00',
    payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
    amount: { total, payer_total: total, currency: 'CNY', payer_currency: 'CNY' },
  };
}

/** The fields of WeChat's APIv2 payment-result notification (docs/wechatpay.md, *Pay-and-sign*) for one of our contract orders, unsigned. */
export function v2PaymentFields(
  merchant: MerchantIds,
  order: Record<string, unknown>,
  overrides: Record<string, string> = {},
): Record<string, string> {
  return {
    return_code: 'SUCCESS',
    return_msg: 'OK',
    appid: merchant.appid,
    mch_id: merchant.mchid,
    nonce_str: randomBytes(8).toString('hex'),
    result_code: 'SUCCESS',
    openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
    is_subscribe: 'N',
    trade_type: String(order.trade_type),
    bank_type: 'CMC',
    total_fee: String(order.total_fee),
    fee_type: 'CNY',
    cash_fee: String(order.total_fee),
    transaction_id: `4200${randomBytes(12).toString('hex')}`,
    out_trade_no: String(order.out_trade_no),
    attach: '深圳分店',
    time_end: '20260101101010',
    ...overrides,
  };
}
