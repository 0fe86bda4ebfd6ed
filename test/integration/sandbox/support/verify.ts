/**
 * Verification of what the sandbox sends, done with a peer library (wechatpay-axios-plugin):
 * Rsa.verify over Formatter.response(ts, nonce, body), Aes.AesGcm.decrypt, Hash.sign for APIv2.
 */
import { Aes, Formatter, Hash, Rsa, Transformer } from 'wechatpay-axios-plugin';

export interface SignedMessage {
  headers: Record<string, string | undefined>;
  body: string;
}

/** Verifies Wechatpay-* headers in public-key mode; returns a reason on failure. */
export function verifyWechatpaySignature(msg: SignedMessage, publicKeyId: string, publicKeyPem: string): true | string {
  const ts = msg.headers['wechatpay-timestamp'];
  const nonce = msg.headers['wechatpay-nonce'];
  const signature = msg.headers['wechatpay-signature'];
  const serial = msg.headers['wechatpay-serial'];
  const type = msg.headers['wechatpay-signature-type'];
  if (!ts || !nonce || !signature || !serial) return 'missing Wechatpay-* headers';
  if (serial !== publicKeyId) return `unknown serial ${serial}`;
  if (type !== undefined && type !== 'WECHATPAY2-SHA256-RSA2048') return `unexpected signature type ${type}`;
  if (Math.abs(Math.floor(Date.now() / 1000) - Number(ts)) > 300) return 'stale timestamp';
  const key = Rsa.from(publicKeyPem, Rsa.KEY_TYPE_PUBLIC);
  return Rsa.verify(Formatter.response(ts, nonce, msg.body), signature, key) ? true : 'bad signature';
}

export interface V3Envelope {
  id: string;
  create_time: string;
  resource_type: string;
  event_type: string;
  summary: string;
  resource: { original_type: string; algorithm: string; ciphertext: string; associated_data: string; nonce: string };
}

export function decryptResource(envelope: V3Envelope, apiV3Key: string): Record<string, unknown> {
  const r = envelope.resource;
  const plain = Aes.AesGcm.decrypt(r.ciphertext, apiV3Key, r.nonce, r.associated_data);
  return JSON.parse(plain) as Record<string, unknown>;
}

export function parseXml(xml: string): Record<string, string> {
  return Transformer.toObject(xml) as Record<string, string>;
}

/** Verifies an APIv2 sign with the peer library; type from sign_type, else by length (AXIOS rule). */
export function verifyV2(fields: Record<string, string>, apiV2Key: string): boolean {
  const sign = fields['sign'];
  if (!sign) return false;
  const type = fields['sign_type'] === 'HMAC-SHA256' || sign.length === 64 ? 'HMAC-SHA256' : 'MD5';
  return Hash.equals(Hash.sign(type, fields, apiV2Key), sign);
}
