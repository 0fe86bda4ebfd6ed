import { type KeyObject, sign } from 'node:crypto';
import { privateKeyFrom } from '../keys';
import { createNonce } from '../nonce';

export { createNonce };

export const AUTHORIZATION_SCHEME = 'WECHATPAY2-SHA256-RSA2048';

// Only used to resolve a bare path; it never appears in the result.
const PLACEHOLDER_ORIGIN = 'http://canonical.invalid';

/**
 * The URL line of the signed message: path plus `?` and the raw query exactly as it goes on the
 * wire (scheme, host and fragment removed). A string is resolved the way `fetch` resolves it, so
 * the signed text matches the request line byte for byte.
 */
export function canonicalUrl(url: string | URL): string {
  const parsed = typeof url === 'string' ? new URL(url, PLACEHOLDER_ORIGIN) : url;
  if (parsed.search !== '') return parsed.pathname + parsed.search;
  // `search` is '' both for "no query" and for an empty query ("/path?"); the latter still sends
  // the '?', so it must be signed too (Go's RequestURI keeps it as well).
  const href = parsed.hash === '' ? parsed.href.replace(/#$/, '') : parsed.href.slice(0, -parsed.hash.length);
  return href.endsWith('?') ? `${parsed.pathname}?` : parsed.pathname;
}

/**
 * The five-line request message. The body line is always present (empty for GET or no body):
 * omitting it for body-less POSTs is a known bug in some third-party SDKs.
 */
export function signatureMessage(
  method: string,
  canonicalUrlLine: string,
  timestamp: number | string,
  nonce: string,
  body: string,
): string {
  return `${method.toUpperCase()}\n${canonicalUrlLine}\n${timestamp}\n${nonce}\n${body}\n`;
}

/** SHA256withRSA (PKCS#1 v1.5) signature, standard Base64. */
export function rsaSha256Sign(message: string | Uint8Array, privateKey: KeyObject | string): string {
  const data = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  // RSA keys sign with PKCS#1 v1.5 padding by default in node:crypto.
  return sign('sha256', data, privateKeyFrom(privateKey)).toString('base64');
}

export interface AuthorizationInput {
  mchid: string;
  /** Serial of the merchant API certificate (not a WeChat Pay key id). */
  serialNo: string;
  privateKey: KeyObject | string;
  method: string;
  url: string | URL;
  /** The exact body bytes that will be sent, as a string; omit or '' when there is none. */
  body?: string | undefined;
  /** Unix time in seconds. Defaults to now. */
  timestamp?: number | undefined;
  nonce?: string | undefined;
}

/** Largest 10-digit value; a millisecond timestamp (13 digits) is the usual mistake and fails at WeChat. */
const MAX_UNIX_SECONDS = 9_999_999_999;

/**
 * The complete `Authorization` header value:
 * `WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",timestamp="…",serial_no="…",signature="…"`.
 */
export function buildAuthorization(input: AuthorizationInput): string {
  const timestamp = input.timestamp ?? Math.floor(Date.now() / 1000);
  if (!Number.isSafeInteger(timestamp) || timestamp < 0 || timestamp > MAX_UNIX_SECONDS) {
    throw new RangeError(`timestamp must be Unix seconds, got ${timestamp}`);
  }
  const nonce = input.nonce ?? createNonce();
  const message = signatureMessage(input.method, canonicalUrl(input.url), timestamp, nonce, input.body ?? '');
  const signature = rsaSha256Sign(message, input.privateKey);
  return formatAuthorization({ mchid: input.mchid, nonce, timestamp, serialNo: input.serialNo, signature });
}

/** Header layout alone (pair order as in the official Go SDK; WeChat accepts any order). */
export function formatAuthorization(parts: {
  mchid: string;
  nonce: string;
  timestamp: number | string;
  serialNo: string;
  signature: string;
  scheme?: string;
}): string {
  return (
    `${parts.scheme ?? AUTHORIZATION_SCHEME} mchid="${parts.mchid}",nonce_str="${parts.nonce}",` +
    `timestamp="${parts.timestamp}",serial_no="${parts.serialNo}",signature="${parts.signature}"`
  );
}
