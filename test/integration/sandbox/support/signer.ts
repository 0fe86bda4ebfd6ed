/**
 * A tiny merchant-side signer for the sandbox tests, written directly on node:crypto.
 * Independent of shared/ AND of sandbox/ (so neither can hide a mistake behind a twin).
 */
import { constants, createHash, createHmac, publicEncrypt, randomBytes, sign } from 'node:crypto';

export interface MerchantKeys {
  mchid: string;
  serialNo: string;
  privateKeyPem: string;
}

export interface AuthOptions {
  timestamp?: number;
  nonce?: string;
  /** Replace the computed signature (negative tests). */
  signature?: string;
  serialNo?: string;
  mchid?: string;
}

/** `WECHATPAY2-SHA256-RSA2048 …` over METHOD\nURL\nTS\nNONCE\nBODY\n. */
export function authorization(keys: MerchantKeys, method: string, url: string, body: string, opts: AuthOptions = {}): string {
  const timestamp = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = opts.nonce ?? randomBytes(16).toString('hex');
  const message = `${method}\n${url}\n${timestamp}\n${nonce}\n${body}\n`;
  const signature = opts.signature ?? sign('sha256', Buffer.from(message, 'utf8'), keys.privateKeyPem).toString('base64');
  const mchid = opts.mchid ?? keys.mchid;
  const serial = opts.serialNo ?? keys.serialNo;
  return `WECHATPAY2-SHA256-RSA2048 mchid="${mchid}",nonce_str="${nonce}",signature="${signature}",timestamp="${timestamp}",serial_no="${serial}"`;
}

/** RSA-OAEP (SHA-1) with the WeChat Pay public key, Base64 (sensitive fields). */
export function encryptSensitive(publicKeyPem: string, plaintext: string): string {
  return publicEncrypt(
    { key: publicKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
    Buffer.from(plaintext, 'utf8'),
  ).toString('base64');
}

/** APIv2 sign: non-empty fields except sign, sorted, `&key=`, MD5 or HMAC-SHA256, upper-case hex. */
export function v2Sign(fields: Record<string, string>, key: string, type: 'MD5' | 'HMAC-SHA256' = 'MD5'): string {
  const text = `${Object.keys(fields)
    .filter((k) => k !== 'sign' && fields[k] !== '')
    .sort()
    .map((k) => `${k}=${fields[k]}`)
    .join('&')}&key=${key}`;
  const hex =
    type === 'MD5' ? createHash('md5').update(text, 'utf8').digest('hex') : createHmac('sha256', key).update(text, 'utf8').digest('hex');
  return hex.toUpperCase();
}

export function v2Xml(fields: Record<string, string>): string {
  return `<xml>${Object.entries(fields)
    .map(([k, v]) => `<${k}><![CDATA[${v}]]></${k}>`)
    .join('')}</xml>`;
}

export function nonceStr(): string {
  return randomBytes(16).toString('hex');
}
