import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import axiosPlugin from 'wechatpay-axios-plugin';
import type * as AxiosPluginModule from 'wechatpay-axios-plugin';

/** wechatpay-axios-plugin: an independent implementation to cross-check against (CommonJS). */
export const peer = axiosPlugin as unknown as typeof AxiosPluginModule;

const vectorsDir = fileURLToPath(new URL('../../fixtures/vectors/', import.meta.url));

export function vector(name: string): string {
  return readFileSync(vectorsDir + name, 'utf8');
}

/** The Java SDK test key (V3, V9) and the Go SDK test key (V1). */
export const MERCHANT_PRIVATE_KEY_PEM = vector('merchant_private_key.pem');
export const MERCHANT_CERTIFICATE_PEM = vector('merchant_certificate.pem');
export const GO_PRIVATE_KEY_PEM = vector('go_sdk_test_private_key.pem');
export const WECHATPAY_PUBLIC_KEY_PEM = vector('wechat_pay_public_key.pem');
export const WECHATPAY_CERTIFICATE_PEM = vector('wechat_pay_certificate.pem');

export const JAVA_APIV3_KEY = 'a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb';

export interface TestKeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
  privatePem: string;
  publicPem: string;
}

export function generateRsaKeyPair(modulusLength = 2048): TestKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength });
  return {
    privateKey,
    publicKey,
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** Response / notification headers signed the way WeChat Pay signs them, by the peer library. */
export function wechatpaySignedHeaders(options: {
  body: string;
  privateKey: KeyObject | string;
  serial: string;
  timestamp: number;
  nonce?: string;
}): Record<string, string> {
  const nonce = options.nonce ?? 'C0FFEE0123456789ABCDEF0123456789';
  const message = peer.Formatter.response(options.timestamp, nonce, options.body);
  return {
    'Wechatpay-Timestamp': String(options.timestamp),
    'Wechatpay-Nonce': nonce,
    'Wechatpay-Signature': peer.Rsa.sign(message, options.privateKey),
    'Wechatpay-Serial': options.serial,
    'Wechatpay-Signature-Type': 'WECHATPAY2-SHA256-RSA2048',
  };
}
