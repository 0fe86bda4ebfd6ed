import { type KeyObject, verify } from 'node:crypto';
import { decodeBase64Strict } from '../base64';
import {
  InvalidSignatureError,
  MalformedHeaderError,
  MissingHeaderError,
  SignatureProbeError,
  TimestampOutOfWindowError,
  UnknownSerialError,
  UnsupportedSignatureTypeError,
} from '../errors';
import { type HeaderReader, type HeaderSource, headerReader } from './headers';

export type { HeaderSource, HeaderValue } from './headers';

export const SIGNATURE_TYPE = 'WECHATPAY2-SHA256-RSA2048';
export const SIGNATURE_PROBE_PREFIX = 'WECHATPAY/SIGNTEST/';

/**
 * Replay window, in seconds. A message is rejected when |now − Wechatpay-Timestamp| >= 300, i.e. a
 * skew of exactly 300 s already fails. This is the rule of the official Go SDK
 * (`abs(now - ts) >= FiveMinute`) and Java SDK (`toMinutes() >= 5`); PHP and the axios plugin accept
 * exactly 300 s. We follow the official SDKs: the stricter side costs nothing in practice.
 */
export const DEFAULT_TOLERANCE_SECONDS = 300;

const TIMESTAMP_PATTERN = /^\d{1,10}$/;

export interface VerifySignatureInput {
  headers: HeaderSource;
  /** The raw body exactly as received (never a re-serialised object). */
  body: string | Uint8Array;
  /** Keys by `Wechatpay-Serial`; see `buildVerifierKeys`. */
  keys: ReadonlyMap<string, KeyObject>;
  /** Clock in milliseconds since the epoch; defaults to `Date.now`. */
  now?: (() => number) | undefined;
  toleranceSeconds?: number | undefined;
}

export interface VerifiedSignature {
  serial: string;
  /** Wechatpay-Timestamp, Unix seconds. */
  timestamp: number;
  nonce: string;
}

/** One header value; several copies of a signature header mean something in between is broken or tampering. */
function singleHeader(read: HeaderReader, lowerName: string, displayName: string): string | undefined {
  const value = read(lowerName);
  if (value === undefined || typeof value === 'string') return value;
  // Multi-value maps (Node, API Gateway v1 multiValueHeaders).
  if (value.length <= 1) return value[0];
  throw new MalformedHeaderError(displayName, 'sent more than once');
}

function requiredHeader(read: HeaderReader, lowerName: string, displayName: string): string {
  const value = singleHeader(read, lowerName, displayName);
  if (value === undefined || value === '') throw new MissingHeaderError(displayName);
  return value;
}

/** `TIMESTAMP\nNONCE\nBODY\n`, built over the body bytes without decoding them. */
function responseMessage(timestamp: string, nonce: string, body: string | Uint8Array): Buffer {
  if (typeof body === 'string') return Buffer.from(`${timestamp}\n${nonce}\n${body}\n`, 'utf8');
  const head = `${timestamp}\n${nonce}\n`;
  const headLength = Buffer.byteLength(head);
  const message = Buffer.allocUnsafe(headLength + body.byteLength + 1);
  message.write(head, 0, 'utf8');
  message.set(body, headLength);
  message[message.length - 1] = 0x0a;
  return message;
}

/** Plain SHA256withRSA (PKCS#1 v1.5) check of a Base64 signature over `message`. */
export function rsaSha256Verify(message: string | Uint8Array, signatureBase64: string, publicKey: KeyObject): boolean {
  const signature = decodeBase64Strict(signatureBase64);
  if (signature === undefined) return false;
  const data = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  return verify('sha256', data, publicKey, signature);
}

/**
 * Verifies a WeChat Pay API response or notification. Checks run cheapest-first, in this order:
 * required headers → timestamp syntax → signature type → replay window → known serial →
 * SIGNTEST probe → Base64 syntax → RSA-SHA256. Throws a `SignatureVerificationError` subclass.
 */
export function verifyWechatPaySignature(input: VerifySignatureInput): VerifiedSignature {
  const read = headerReader(input.headers);
  const timestampText = requiredHeader(read, 'wechatpay-timestamp', 'Wechatpay-Timestamp');
  const nonce = requiredHeader(read, 'wechatpay-nonce', 'Wechatpay-Nonce');
  const signatureText = requiredHeader(read, 'wechatpay-signature', 'Wechatpay-Signature');
  const serial = requiredHeader(read, 'wechatpay-serial', 'Wechatpay-Serial');

  if (!TIMESTAMP_PATTERN.test(timestampText)) {
    throw new MalformedHeaderError('Wechatpay-Timestamp', 'expected Unix seconds (1-10 digits)');
  }

  // SDKs treat a missing type as the RSA one; anything else (e.g. the SM2 variant) is out of scope.
  const signatureType = singleHeader(read, 'wechatpay-signature-type', 'Wechatpay-Signature-Type');
  if (signatureType !== undefined && signatureType !== SIGNATURE_TYPE) {
    throw new UnsupportedSignatureTypeError(signatureType);
  }

  const timestamp = Number(timestampText);
  const nowSeconds = Math.floor((input.now ?? Date.now)() / 1000);
  const tolerance = input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const skew = nowSeconds - timestamp;
  if (Math.abs(skew) >= tolerance) {
    throw new TimestampOutOfWindowError(timestamp, Math.abs(skew), skew > 0 ? 'stale' : 'future', tolerance);
  }

  const key = input.keys.get(serial);
  if (key === undefined) throw new UnknownSerialError(serial);

  if (signatureText.startsWith(SIGNATURE_PROBE_PREFIX)) throw new SignatureProbeError();

  const signature = decodeBase64Strict(signatureText);
  if (signature === undefined) throw new MalformedHeaderError('Wechatpay-Signature', 'not valid Base64');

  let valid: boolean;
  try {
    valid = verify('sha256', responseMessage(timestampText, nonce, input.body), key, signature);
  } catch {
    // e.g. a non-RSA key configured under this serial: still just "does not verify".
    valid = false;
  }
  if (!valid) throw new InvalidSignatureError(serial);
  return { serial, timestamp, nonce };
}
