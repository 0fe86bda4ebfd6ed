/**
 * The sandbox's outgoing APIv3 signatures (public-key mode, docs/wechatpay.md): headers
 * Wechatpay-Timestamp / -Nonce / -Signature / -Serial / -Signature-Type over `TS\nNONCE\nBODY\n`.
 */
import { randomBytes } from 'node:crypto';
import type { SandboxWechatpayKey } from './config';
import { privateKeyOf, randomHexNonce, rsaSign } from './crypto';

export const SIGNATURE_TYPE = 'WECHATPAY2-SHA256-RSA2048';
export const SIGNTEST_PREFIX = 'WECHATPAY/SIGNTEST/';

export function wechatpaySignatureHeaders(
  key: SandboxWechatpayKey,
  body: Buffer,
  nowMs: number,
  probe: boolean,
): Record<string, string> {
  const timestamp = String(Math.floor(nowMs / 1000));
  const nonce = randomHexNonce();
  const signature = probe
    ? `${SIGNTEST_PREFIX}${randomBytes(256).toString('base64')}`
    : rsaSign(
        Buffer.concat([Buffer.from(`${timestamp}\n${nonce}\n`, 'utf8'), body, Buffer.from('\n')]),
        privateKeyOf(key.privateKeyPem),
      );
  return {
    'Wechatpay-Timestamp': timestamp,
    'Wechatpay-Nonce': nonce,
    'Wechatpay-Signature': signature,
    'Wechatpay-Serial': key.id,
    'Wechatpay-Signature-Type': SIGNATURE_TYPE,
  };
}
