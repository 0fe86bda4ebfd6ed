/**
 * Typed errors for the WeChat Pay protocol layer.
 *
 * Every error carries a stable `code` so callers can branch (and log) without parsing messages.
 * Messages never contain key material, signatures' secrets or decrypted payloads: they end up in logs.
 */

export interface WechatPayErrorOptions {
  cause?: unknown;
}

export class WechatPayError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: WechatPayErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    // `new.target.name` keeps the subclass name in stack traces and `String(err)` without
    // every subclass having to set it.
    this.name = new.target.name;
  }

  /** Whether repeating the same call, unchanged, may succeed. Conservative by default. */
  get retriable(): boolean {
    return false;
  }
}

/** Thrown when a key or certificate PEM cannot be parsed. The message names the key, never its text. */
export class InvalidKeyError extends WechatPayError {
  constructor(message: string, options?: WechatPayErrorOptions) {
    super('INVALID_KEY', message, options);
  }
}

// ---------------------------------------------------------------------------------------------
// APIv3 signature verification (responses and notifications)
// ---------------------------------------------------------------------------------------------

/**
 * Common parent of every reason a WeChat Pay signature is not accepted, so a notification handler
 * can answer 401 for all of them with one `catch`. Abstract: only the subclasses are thrown.
 */
export abstract class SignatureVerificationError extends WechatPayError {}

export class MissingHeaderError extends SignatureVerificationError {
  readonly header: string;

  constructor(header: string) {
    super('MISSING_HEADER', `missing required header ${header}`);
    this.header = header;
  }
}

export class MalformedHeaderError extends SignatureVerificationError {
  readonly header: string;

  constructor(header: string, reason: string) {
    super('MALFORMED_HEADER', `malformed header ${header}: ${reason}`);
    this.header = header;
  }
}

export class UnsupportedSignatureTypeError extends SignatureVerificationError {
  readonly signatureType: string;

  constructor(signatureType: string) {
    super('UNSUPPORTED_SIGNATURE_TYPE', `unsupported Wechatpay-Signature-Type ${JSON.stringify(signatureType)}`);
    this.signatureType = signatureType;
  }
}

/** The serial names no key we hold. A caller may refresh its keys once and retry (key rotation). */
export class UnknownSerialError extends SignatureVerificationError {
  readonly serial: string;

  constructor(serial: string) {
    super('UNKNOWN_SERIAL', `no verification key for Wechatpay-Serial ${JSON.stringify(serial)}`);
    this.serial = serial;
  }
}

export class TimestampOutOfWindowError extends SignatureVerificationError {
  readonly direction: 'stale' | 'future';
  /** Absolute distance between our clock and Wechatpay-Timestamp, in seconds. */
  readonly skewSeconds: number;
  readonly timestamp: number;

  constructor(timestamp: number, skewSeconds: number, direction: 'stale' | 'future', toleranceSeconds: number) {
    super(
      'TIMESTAMP_OUT_OF_WINDOW',
      `Wechatpay-Timestamp ${timestamp} is ${skewSeconds}s in the ${direction === 'stale' ? 'past' : 'future'} (limit: under ${toleranceSeconds}s)`,
    );
    this.timestamp = timestamp;
    this.skewSeconds = skewSeconds;
    this.direction = direction;
  }
}

/**
 * WeChat deliberately sends wrong signatures prefixed `WECHATPAY/SIGNTEST/` to check that merchants
 * verify. It gets its own class only to make logs clearer; it must be handled like any bad signature.
 */
export class SignatureProbeError extends SignatureVerificationError {
  constructor() {
    super('SIGNATURE_PROBE', 'Wechatpay-Signature is a WECHATPAY/SIGNTEST/ probe (deliberately invalid)');
  }
}

export class InvalidSignatureError extends SignatureVerificationError {
  readonly serial: string;

  constructor(serial: string) {
    super('INVALID_SIGNATURE', `signature does not verify under the key for serial ${JSON.stringify(serial)}`);
    this.serial = serial;
  }
}

// ---------------------------------------------------------------------------------------------
// APIv3 payload crypto
// ---------------------------------------------------------------------------------------------

export class InvalidApiV3KeyError extends WechatPayError {
  readonly byteLength: number;

  constructor(byteLength: number) {
    super('INVALID_APIV3_KEY', `APIv3 key must be exactly 32 bytes, got ${byteLength}`);
    this.byteLength = byteLength;
  }
}

export class DecryptionError extends WechatPayError {
  constructor(message: string, options?: WechatPayErrorOptions) {
    super('DECRYPTION_FAILED', message, options);
  }
}

export class MalformedNotificationError extends WechatPayError {
  constructor(message: string, options?: WechatPayErrorOptions) {
    super('MALFORMED_NOTIFICATION', message, options);
  }
}

export class PlaintextTooLongError extends WechatPayError {
  readonly byteLength: number;
  readonly maxBytes: number;

  constructor(byteLength: number, maxBytes: number) {
    super('PLAINTEXT_TOO_LONG', `plaintext is ${byteLength} bytes; RSA-OAEP with this key takes at most ${maxBytes}`);
    this.byteLength = byteLength;
    this.maxBytes = maxBytes;
  }
}

// ---------------------------------------------------------------------------------------------
// APIv2
// ---------------------------------------------------------------------------------------------

export type V2SignatureFailure =
  | 'missing_sign'
  | 'unknown_sign_type'
  | 'sign_type_mismatch'
  | 'bad_sign_length'
  | 'mismatch'
  | 'mch_id_mismatch';

export class V2SignatureError extends WechatPayError {
  readonly reason: V2SignatureFailure;

  constructor(reason: V2SignatureFailure, message: string) {
    super('V2_SIGNATURE_INVALID', message);
    this.reason = reason;
  }
}

export class XmlError extends WechatPayError {}

export class XmlTooLargeError extends XmlError {
  readonly byteLength: number;
  readonly maxBytes: number;

  constructor(byteLength: number, maxBytes: number) {
    super('XML_TOO_LARGE', `XML input is ${byteLength} bytes, limit ${maxBytes}`);
    this.byteLength = byteLength;
    this.maxBytes = maxBytes;
  }
}

/** DTDs and entity declarations are refused outright: they are the XXE and billion-laughs vectors. */
export class XmlUnsafeError extends XmlError {
  constructor(message: string) {
    super('XML_UNSAFE', message);
  }
}

export class XmlShapeError extends XmlError {
  constructor(message: string, options?: WechatPayErrorOptions) {
    super('XML_SHAPE', message, options);
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP client
// ---------------------------------------------------------------------------------------------

/** Where a client call ended up; set on client errors for observability. */
export interface CallTrace {
  attempts?: number;
  baseUrl?: string;
}

/** A non-2xx answer from WeChat Pay (`{code, message, detail}` for v3; HTTP status for v2). */
export class WechatPayApiError extends WechatPayError implements CallTrace {
  readonly status: number;
  readonly detail: unknown;
  readonly requestId: string | undefined;
  attempts?: number;
  baseUrl?: string;

  constructor(init: { status: number; code: string; message: string; detail?: unknown; requestId?: string | undefined }) {
    super(init.code, init.message);
    this.status = init.status;
    this.detail = init.detail;
    this.requestId = init.requestId;
  }

  /** 5xx and 429 may succeed later with the same request; 4xx need a changed request. */
  override get retriable(): boolean {
    return this.status >= 500 || this.status === 429;
  }
}

export type TransportFailureKind = 'timeout' | 'connection';

/** No HTTP answer at all (after all attempts): timeout, refused, reset, DNS failure. */
export class WechatPayTransportError extends WechatPayError implements CallTrace {
  readonly kind: TransportFailureKind;
  attempts?: number;
  baseUrl?: string;

  constructor(kind: TransportFailureKind, message: string, options?: WechatPayErrorOptions) {
    super(kind === 'timeout' ? 'TRANSPORT_TIMEOUT' : 'TRANSPORT_CONNECTION', message, options);
    this.kind = kind;
  }

  override get retriable(): boolean {
    return true;
  }
}

/**
 * A 2xx answer whose signature did not verify (including WeChat's SIGNTEST probes). The outcome of
 * the call is UNKNOWN: it must never be treated as success. Re-issue it only where that is idempotent.
 */
export class ResponseVerificationError extends WechatPayError implements CallTrace {
  readonly status: number;
  readonly requestId: string | undefined;
  override readonly cause: SignatureVerificationError | V2SignatureError;
  attempts?: number;
  baseUrl?: string;

  constructor(cause: SignatureVerificationError | V2SignatureError, status: number, requestId?: string) {
    super('RESPONSE_UNVERIFIED', `response (HTTP ${status}) failed verification: ${cause.message}`, { cause });
    this.cause = cause;
    this.status = status;
    this.requestId = requestId;
  }
}

/** A verified 2xx whose body is not what the protocol promises (e.g. not JSON). */
export class MalformedResponseError extends WechatPayError implements CallTrace {
  readonly status: number;
  readonly requestId: string | undefined;
  attempts?: number;
  baseUrl?: string;

  constructor(message: string, status: number, requestId?: string, options?: WechatPayErrorOptions) {
    super('MALFORMED_RESPONSE', message, options);
    this.status = status;
    this.requestId = requestId;
  }
}

/** APIv2 `return_code=FAIL`: the call was refused at the communication level (bad sign, bad XML, …). */
export class WechatPayV2ReturnError extends WechatPayError implements CallTrace {
  readonly returnCode: string;
  readonly returnMsg: string;
  attempts?: number;
  baseUrl?: string;

  constructor(returnCode: string, returnMsg: string) {
    super('V2_RETURN_FAIL', `return_code=${returnCode}: ${returnMsg}`);
    this.returnCode = returnCode;
    this.returnMsg = returnMsg;
  }
}
