import { describe, expect, it } from 'vitest';
import {
  DecryptionError,
  InvalidApiV3KeyError,
  InvalidSignatureError,
  MalformedHeaderError,
  MalformedNotificationError,
  MissingHeaderError,
  PlaintextTooLongError,
  ResponseVerificationError,
  SignatureProbeError,
  SignatureVerificationError,
  TimestampOutOfWindowError,
  UnknownSerialError,
  UnsupportedSignatureTypeError,
  V2SignatureError,
  WechatPayApiError,
  WechatPayError,
  WechatPayTransportError,
  WechatPayV2ReturnError,
  XmlError,
  XmlShapeError,
  XmlTooLargeError,
  XmlUnsafeError,
} from '../../../shared/wechatpay/index';

describe('error hierarchy', () => {
  const verificationErrors: SignatureVerificationError[] = [
    new MissingHeaderError('Wechatpay-Nonce'),
    new MalformedHeaderError('Wechatpay-Timestamp', 'not digits'),
    new UnsupportedSignatureTypeError('WECHATPAY2-SM2-WITH-SM3'),
    new UnknownSerialError('PUB_KEY_ID_X'),
    new TimestampOutOfWindowError(1, 400, 'stale', 300),
    new SignatureProbeError(),
    new InvalidSignatureError('PUB_KEY_ID_X'),
  ];

  it('groups every verification failure under SignatureVerificationError with distinct codes', () => {
    for (const error of verificationErrors) {
      expect(error).toBeInstanceOf(SignatureVerificationError);
      expect(error).toBeInstanceOf(WechatPayError);
      expect(error).toBeInstanceOf(Error);
      expect(error.name).toBe(error.constructor.name);
      expect(error.retriable).toBe(false);
    }
    expect(new Set(verificationErrors.map((e) => e.code)).size).toBe(verificationErrors.length);
  });

  it('keeps the other families apart from verification errors', () => {
    for (const error of [
      new InvalidApiV3KeyError(16),
      new DecryptionError('x'),
      new MalformedNotificationError('x'),
      new PlaintextTooLongError(215, 214),
      new V2SignatureError('mismatch', 'x'),
      new XmlTooLargeError(2, 1),
    ]) {
      expect(error).toBeInstanceOf(WechatPayError);
      expect(error).not.toBeInstanceOf(SignatureVerificationError);
    }
    for (const error of [new XmlTooLargeError(2, 1), new XmlUnsafeError('x'), new XmlShapeError('x')]) {
      expect(error).toBeInstanceOf(XmlError);
    }
  });

  it('carries structured fields', () => {
    expect(new MissingHeaderError('Wechatpay-Serial').header).toBe('Wechatpay-Serial');
    const stale = new TimestampOutOfWindowError(100, 300, 'future', 300);
    expect([stale.direction, stale.skewSeconds, stale.timestamp]).toEqual(['future', 300, 100]);
    expect(new UnknownSerialError('ABC').serial).toBe('ABC');
    expect(new InvalidApiV3KeyError(16).byteLength).toBe(16);
    const tooLong = new PlaintextTooLongError(215, 214);
    expect([tooLong.byteLength, tooLong.maxBytes]).toEqual([215, 214]);
    const v2 = new WechatPayV2ReturnError('FAIL', '签名错误');
    expect([v2.returnCode, v2.returnMsg, v2.code]).toEqual(['FAIL', '签名错误', 'V2_RETURN_FAIL']);
  });

  it('marks 5xx / 429 API errors and transport failures as retriable, 4xx not', () => {
    const api = (status: number) => new WechatPayApiError({ status, code: 'X', message: 'm', requestId: 'r' });
    expect(api(500).retriable).toBe(true);
    expect(api(503).retriable).toBe(true);
    expect(api(429).retriable).toBe(true);
    expect(api(400).retriable).toBe(false);
    expect(api(403).retriable).toBe(false);
    expect(api(400).requestId).toBe('r');
    expect(new WechatPayTransportError('timeout', 't').retriable).toBe(true);
    expect(new WechatPayTransportError('connection', 'c').code).toBe('TRANSPORT_CONNECTION');
  });

  it('wraps the verification failure of an unverified response', () => {
    const probe = new SignatureProbeError();
    const error = new ResponseVerificationError(probe, 200, 'req-1');
    expect(error.cause).toBe(probe);
    expect(error.status).toBe(200);
    expect(error.requestId).toBe('req-1');
    expect(error.retriable).toBe(false);
  });
});
