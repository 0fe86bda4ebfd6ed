/**
 * The sandbox's own WeChat Pay crypto, written from docs/wechatpay.md on node:crypto.
 * Deliberately independent of shared/wechatpay.
 */
import {
  constants,
  createCipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  privateDecrypt,
  randomBytes,
  randomInt,
  sign as rsaSignRaw,
  timingSafeEqual,
  verify as rsaVerifyRaw,
  type KeyObject,
} from 'node:crypto';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function randomAlnum(length: number): string {
  let out = '';
  for (let i = 0; i < length; i += 1) out += ALNUM[randomInt(ALNUM.length)];
  return out;
}

/** 32 upper-case hex characters, as in WeChat's own examples. */
export function randomHexNonce(): string {
  return randomBytes(16).toString('hex').toUpperCase();
}

const keyCache = new Map<string, KeyObject>();

export function publicKeyOf(pem: string): KeyObject {
  let key = keyCache.get(pem);
  if (!key) {
    key = createPublicKey(pem);
    keyCache.set(pem, key);
  }
  return key;
}

export function privateKeyOf(pem: string): KeyObject {
  let key = keyCache.get(pem);
  if (!key) {
    key = createPrivateKey(pem);
    keyCache.set(pem, key);
  }
  return key;
}

/** RSASSA-PKCS1-v1_5 with SHA-256, Base64 (APIv3 request signing). */
export function rsaSign(message: Buffer | string, privateKey: KeyObject): string {
  return rsaSignRaw('sha256', typeof message === 'string' ? Buffer.from(message, 'utf8') : message, privateKey).toString(
    'base64',
  );
}

export function rsaVerify(message: Buffer | string, signatureBase64: string, publicKey: KeyObject): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signatureBase64)) return false;
  try {
    return rsaVerifyRaw(
      'sha256',
      typeof message === 'string' ? Buffer.from(message, 'utf8') : message,
      publicKey,
      Buffer.from(signatureBase64, 'base64'),
    );
  } catch {
    return false;
  }
}

/** RSAES-OAEP, SHA-1 + MGF1-SHA1, empty label (sensitive-field encryption). Throws on any failure. */
export function oaepDecrypt(ciphertextBase64: string, privateKey: KeyObject): string {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(ciphertextBase64)) throw new Error('not base64');
  const plain = privateDecrypt(
    { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
    Buffer.from(ciphertextBase64, 'base64'),
  );
  return new TextDecoder('utf-8', { fatal: true }).decode(plain);
}

/** AEAD_AES_256_GCM: returns Base64(ciphertext || 16-byte tag) (resource encryption). */
export function aesGcmEncrypt(plaintext: string, apiV3Key: string, nonce: string, associatedData: string): string {
  const key = Buffer.from(apiV3Key, 'utf8');
  if (key.length !== 32) throw new Error('APIv3 key must be 32 bytes');
  const cipher = createCipheriv('aes-256-gcm', key, Buffer.from(nonce, 'utf8'));
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return body.toString('base64');
}

export type V2SignType = 'MD5' | 'HMAC-SHA256';

/** The APIv2 string to sign: non-empty fields except `sign`, ASCII-sorted, `k=v&…&key=KEY` (APIv2 signing). */
export function v2SignString(fields: Record<string, string>, apiV2Key: string): string {
  const pairs = Object.keys(fields)
    .filter((k) => k !== 'sign' && fields[k] !== undefined && fields[k] !== '')
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((k) => `${k}=${fields[k]}`);
  return `${pairs.join('&')}&key=${apiV2Key}`;
}

export function v2Sign(fields: Record<string, string>, apiV2Key: string, signType: V2SignType): string {
  const input = v2SignString(fields, apiV2Key);
  const digest =
    signType === 'HMAC-SHA256'
      ? createHmac('sha256', apiV2Key).update(input, 'utf8').digest('hex')
      : createHash('md5').update(input, 'utf8').digest('hex');
  return digest.toUpperCase();
}

/** Constant-time string equality (for signs). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

export function sha256Hex(input: string | Buffer): string {
  return createHash('sha256').update(input).digest('hex');
}
