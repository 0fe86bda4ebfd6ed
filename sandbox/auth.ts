/**
 * APIv3 request authentication exactly as docs/wechatpay.md (*APIv3 request signing*) describes:
 * `Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",timestamp="…",serial_no="…",signature="…"`
 * (pairs in any order), registered mchid, matching certificate serial, 300 s window, and an
 * RSA-SHA256 signature over `METHOD\nURL\nTS\nNONCE\nBODY\n` (raw body bytes).
 */
import type { SandboxConfig, SandboxMerchant } from './config';
import { publicKeyOf, rsaVerify } from './crypto';
import { ApiError } from './errors';

export const AUTH_SCHEME = 'WECHATPAY2-SHA256-RSA2048';
export const TIMESTAMP_WINDOW_SECONDS = 300;

const REQUIRED = ['mchid', 'nonce_str', 'timestamp', 'serial_no', 'signature'] as const;
type AuthKey = (typeof REQUIRED)[number];
export type AuthorizationFields = Record<AuthKey, string>;

const signError = (message: string, detail?: Record<string, unknown>): ApiError =>
  new ApiError(401, 'SIGN_ERROR', message, detail);

const GARBLED = 'Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》';

/** Parses the header; any missing, duplicated, unknown or malformed pair is a 401 SIGN_ERROR. */
export function parseAuthorization(header: string | undefined): AuthorizationFields {
  if (header === undefined || header.trim() === '') {
    throw signError('Http头缺少Authorization', { field: 'Authorization', location: 'header', issue: 'missing' });
  }
  const prefix = `${AUTH_SCHEME} `;
  if (!header.startsWith(prefix)) {
    throw signError('Http头Authorization中的认证类型不正确，应为WECHATPAY2-SHA256-RSA2048', {
      field: 'Authorization',
      location: 'header',
      issue: 'bad scheme',
    });
  }
  const rest = header.slice(prefix.length);
  const pair = /\s*([a-z_]+)="([^"]*)"\s*(,|$)/y;
  const out: Partial<Record<string, string>> = {};
  let pos = 0;
  let lastSep = '';
  while (pos < rest.length) {
    pair.lastIndex = pos;
    const m = pair.exec(rest);
    if (!m || m.index !== pos) throw signError(GARBLED, { field: 'Authorization', location: 'header', issue: 'garbled' });
    const key = m[1] ?? '';
    if (!(REQUIRED as readonly string[]).includes(key) || out[key] !== undefined) {
      throw signError(GARBLED, { field: 'Authorization', location: 'header', issue: `unexpected or repeated ${key}` });
    }
    out[key] = m[2] ?? '';
    pos = pair.lastIndex;
    lastSep = m[3] ?? '';
    if (lastSep === '' && pos < rest.length) {
      throw signError(GARBLED, { field: 'Authorization', location: 'header', issue: 'garbled' });
    }
  }
  if (lastSep === ',') throw signError(GARBLED, { field: 'Authorization', location: 'header', issue: 'trailing comma' });
  for (const key of REQUIRED) {
    if (!out[key]) {
      throw signError(`Http头Authorization中缺少${key}`, { field: key, location: 'authorization', issue: 'missing' });
    }
  }
  return out as AuthorizationFields;
}

export interface SignedRequest {
  method: string;
  /** The request-target exactly as sent (path + `?query`). */
  url: string;
  authorization: string | undefined;
  body: Buffer;
}

/** The signed message, as bytes (BODY is the raw body). */
export function requestSignMessage(method: string, url: string, timestamp: string, nonce: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${method}\n${url}\n${timestamp}\n${nonce}\n`, 'utf8'), body, Buffer.from('\n')]);
}

const TRUNCATE_AT = 256;

/** Authenticates an APIv3 request; returns the calling merchant or throws a 401 SIGN_ERROR. */
export function authenticate(req: SignedRequest, config: SandboxConfig, nowMs: number): SandboxMerchant {
  const auth = parseAuthorization(req.authorization);
  const merchant = config.merchants.find((m) => m.mchid === auth.mchid);
  if (!merchant) {
    throw signError('Http头Authorization中的mchid不存在或未开通APIv3', {
      field: 'mchid',
      value: auth.mchid,
      location: 'authorization',
      issue: 'merchant not found',
    });
  }
  if (auth.serial_no !== merchant.serialNo) {
    throw signError('商户证书序列号有误。请使用签名私钥匹配的证书序列号', {
      field: 'serial_no',
      value: auth.serial_no,
      location: 'authorization',
      issue: 'serial_no not match',
    });
  }
  const nowSeconds = Math.floor(nowMs / 1000);
  if (!/^\d{1,10}$/.test(auth.timestamp) || Math.abs(nowSeconds - Number(auth.timestamp)) >= TIMESTAMP_WINDOW_SECONDS) {
    throw signError('Http头Authorization中的timestamp与发起请求的时间不得超过5分钟', {
      field: 'timestamp',
      value: auth.timestamp,
      location: 'authorization',
      issue: 'timestamp expired',
    });
  }
  const message = requestSignMessage(req.method, req.url, auth.timestamp, auth.nonce_str, req.body);
  if (!rsaVerify(message, auth.signature, publicKeyOf(merchant.publicKeyPem))) {
    const text = message.toString('utf8');
    throw signError('签名错误，请检查后再试', {
      field: 'signature',
      location: 'authorization',
      issue: 'sign not match',
      sign_information: {
        method: req.method,
        url: req.url,
        truncated_sign_message: text.length > TRUNCATE_AT ? `${text.slice(0, TRUNCATE_AT)}…` : text,
        sign_message_length: message.length,
      },
    });
  }
  return merchant;
}
