import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const vectors = (name: string) =>
  readFileSync(fileURLToPath(new URL(`../../fixtures/vectors/${name}`, import.meta.url)), 'utf8');

export const MERCHANT_PRIVATE_KEY = vectors('merchant_private_key.pem');
export const WECHATPAY_PUBLIC_KEY = vectors('wechat_pay_public_key.pem');
export const WECHATPAY_CERTIFICATE = vectors('wechat_pay_certificate.pem');
/** The Java SDK's apiclient_cert.pem of MERCHANT_PRIVATE_KEY. */
export const MERCHANT_CERTIFICATE = vectors('merchant_certificate.pem');

/** Distinctive values so a test can assert none of them shows up in an error message. */
export const API_V3_KEY = 'V3KEYv3keyV3KEYv3keyV3KEYv3key01';
export const API_V2_KEY = 'V2KEYv2keyV2KEYv2keyV2KEYv2key02';
export const FINGERPRINT_KEY = 'fingerprint-hmac-key-for-tests-0';

export function validSecret(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    mchid: '1900000001',
    appid: 'wx8888888888888888',
    merchantSerialNo: '3775B6A45ACD588826D15E583A95F5DD2E0A9A1F',
    merchantPrivateKey: MERCHANT_PRIVATE_KEY,
    apiV3Key: API_V3_KEY,
    apiV2Key: API_V2_KEY,
    wechatpayPublicKeys: {
      PUB_KEY_ID_0114232134912410000000000000: WECHATPAY_PUBLIC_KEY,
      '5157F09EFDC096DE15EBE81A47057A7232F1B8E1': WECHATPAY_CERTIFICATE,
    },
    fingerprintKeys: { 'fp-1': FINGERPRINT_KEY },
    ...overrides,
  };
}

/** Pieces of secret material that must never appear in messages or logs. */
export const SECRET_MATERIAL = [
  API_V3_KEY,
  API_V2_KEY,
  FINGERPRINT_KEY,
  // a line from the middle of the private key's base64 body
  MERCHANT_PRIVATE_KEY.split('\n')[5]!,
];

export function expectNoSecretMaterial(text: string): void {
  for (const value of SECRET_MATERIAL) {
    if (text.includes(value)) throw new Error(`leaked secret material: …${value.slice(0, 4)}…`);
  }
}
