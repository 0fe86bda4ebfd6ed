import { sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  InvalidSignatureError,
  MalformedHeaderError,
  MissingHeaderError,
  SignatureProbeError,
  SignatureVerificationError,
  TimestampOutOfWindowError,
  UnknownSerialError,
  UnsupportedSignatureTypeError,
  buildVerifierKeys,
  verifyWechatPaySignature,
} from '../../../shared/wechatpay/index';
import { generateRsaKeyPair, wechatpaySignedHeaders } from './support';

const wechat = generateRsaKeyPair();
const other = generateRsaKeyPair();
const SERIAL = 'PUB_KEY_ID_0000000000000024101100397200000006';
const CERT_SERIAL = '5157F09EFDC096DE15EBE81A47057A7232F1B8E1';
const keys = buildVerifierKeys({ [SERIAL]: wechat.publicPem, [CERT_SERIAL]: other.publicPem });
const TS = 1_700_000_000;
const now = () => TS * 1000 + 500;
const BODY = '{"id":"EV-2018022511223320873","summary":"支付成功"}';

function signed(overrides: Record<string, string | undefined> = {}, body = BODY, timestamp = TS): Record<string, string | undefined> {
  return { ...wechatpaySignedHeaders({ body, privateKey: wechat.privateKey, serial: SERIAL, timestamp }), ...overrides };
}

function failure(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('verifyWechatPaySignature', () => {
  it('accepts a correctly signed body and reports serial and timestamp', () => {
    expect(verifyWechatPaySignature({ headers: signed(), body: BODY, keys, now })).toEqual({
      serial: SERIAL,
      timestamp: TS,
      nonce: 'C0FFEE0123456789ABCDEF0123456789',
    });
  });

  it('accepts header names in any case, a fetch Headers and multi-value maps', () => {
    const lower = Object.fromEntries(Object.entries(signed()).map(([k, v]) => [k.toLowerCase(), v]));
    const upper = Object.fromEntries(Object.entries(signed()).map(([k, v]) => [k.toUpperCase(), v]));
    const arrays = Object.fromEntries(Object.entries(signed()).map(([k, v]) => [k.toLowerCase(), [v as string]]));
    expect(verifyWechatPaySignature({ headers: lower, body: BODY, keys, now }).serial).toBe(SERIAL);
    expect(verifyWechatPaySignature({ headers: upper, body: BODY, keys, now }).serial).toBe(SERIAL);
    expect(verifyWechatPaySignature({ headers: arrays, body: BODY, keys, now }).serial).toBe(SERIAL);
    const headers = new Headers(signed() as Record<string, string>);
    expect(verifyWechatPaySignature({ headers, body: BODY, keys, now }).serial).toBe(SERIAL);
  });

  it('verifies raw bytes without re-encoding them (Buffer / Uint8Array bodies, invalid UTF-8 included)', () => {
    const bytes = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);
    const headers = wechatpaySignedHeaders({ body: '', privateKey: wechat.privateKey, serial: SERIAL, timestamp: TS });
    // Sign the exact bytes with node:crypto, since the peer takes strings only.
    const message = Buffer.concat([Buffer.from(`${TS}\n${headers['Wechatpay-Nonce']}\n`), bytes, Buffer.from('\n')]);
    headers['Wechatpay-Signature'] = sign('sha256', message, wechat.privateKey).toString('base64');
    expect(verifyWechatPaySignature({ headers, body: bytes, keys, now }).serial).toBe(SERIAL);
    expect(verifyWechatPaySignature({ headers, body: new Uint8Array(bytes), keys, now }).serial).toBe(SERIAL);
    // Decoding to a string would replace the invalid bytes and break the signature.
    expect(() => verifyWechatPaySignature({ headers, body: bytes.toString('utf8'), keys, now })).toThrow(InvalidSignatureError);
  });

  it('verifies an empty (204) body as TIMESTAMP\\nNONCE\\n\\n', () => {
    expect(verifyWechatPaySignature({ headers: signed({}, ''), body: '', keys, now }).timestamp).toBe(TS);
    expect(verifyWechatPaySignature({ headers: signed({}, ''), body: Buffer.alloc(0), keys, now }).timestamp).toBe(TS);
  });

  it('rejects a re-serialised body (whitespace / key order changes)', () => {
    const reserialised = JSON.stringify(JSON.parse(BODY), null, 1);
    expect(() => verifyWechatPaySignature({ headers: signed(), body: reserialised, keys, now })).toThrow(InvalidSignatureError);
  });

  it.each(['Wechatpay-Timestamp', 'Wechatpay-Nonce', 'Wechatpay-Signature', 'Wechatpay-Serial'])(
    'MissingHeaderError when %s is absent or empty',
    (name) => {
      const absent = failure(() => verifyWechatPaySignature({ headers: signed({ [name]: undefined }), body: BODY, keys, now }));
      expect(absent).toBeInstanceOf(MissingHeaderError);
      expect((absent as MissingHeaderError).header).toBe(name);
      const empty = failure(() => verifyWechatPaySignature({ headers: signed({ [name]: '' }), body: BODY, keys, now }));
      expect(empty).toBeInstanceOf(MissingHeaderError);
    },
  );

  it.each(['', '17000000000', '1.7e9', '-1', ' 1700000000', '1700000000ms', '0x65'])(
    'MalformedHeaderError for timestamp %j',
    (timestamp) => {
      const headers = signed({ 'Wechatpay-Timestamp': timestamp });
      const error = failure(() => verifyWechatPaySignature({ headers, body: BODY, keys, now }));
      if (timestamp === '') {
        expect(error).toBeInstanceOf(MissingHeaderError);
      } else {
        expect(error).toBeInstanceOf(MalformedHeaderError);
        expect((error as MalformedHeaderError).header).toBe('Wechatpay-Timestamp');
      }
    },
  );

  it('rejects a duplicated signature header', () => {
    const headers = { ...signed(), 'Wechatpay-Signature': undefined, 'wechatpay-signature': ['a', 'b'] };
    expect(() => verifyWechatPaySignature({ headers, body: BODY, keys, now })).toThrow(MalformedHeaderError);
  });

  it('UnsupportedSignatureTypeError for another signature type; a missing type means RSA', () => {
    const sm = signed({ 'Wechatpay-Signature-Type': 'WECHATPAY2-SM2-WITH-SM3' });
    expect(() => verifyWechatPaySignature({ headers: sm, body: BODY, keys, now })).toThrow(UnsupportedSignatureTypeError);
    const missing = signed({ 'Wechatpay-Signature-Type': undefined });
    expect(verifyWechatPaySignature({ headers: missing, body: BODY, keys, now }).serial).toBe(SERIAL);
  });

  describe('replay window (reject when |now − ts| >= 300 s, as the official Go/Java SDKs)', () => {
    const at = (skewSeconds: number) => () => (TS + skewSeconds) * 1000;
    it('accepts 299 s either way', () => {
      expect(verifyWechatPaySignature({ headers: signed(), body: BODY, keys, now: at(299) }).timestamp).toBe(TS);
      expect(verifyWechatPaySignature({ headers: signed(), body: BODY, keys, now: at(-299) }).timestamp).toBe(TS);
      // 299.999 s is still 299 whole seconds
      expect(verifyWechatPaySignature({ headers: signed(), body: BODY, keys, now: () => (TS + 299) * 1000 + 999 }).timestamp).toBe(TS);
    });
    it('rejects exactly 300 s as stale / future', () => {
      const stale = failure(() => verifyWechatPaySignature({ headers: signed(), body: BODY, keys, now: at(300) }));
      expect(stale).toBeInstanceOf(TimestampOutOfWindowError);
      expect((stale as TimestampOutOfWindowError).direction).toBe('stale');
      expect((stale as TimestampOutOfWindowError).skewSeconds).toBe(300);
      const future = failure(() => verifyWechatPaySignature({ headers: signed(), body: BODY, keys, now: at(-300) }));
      expect((future as TimestampOutOfWindowError).direction).toBe('future');
    });
    it('honours a custom tolerance', () => {
      expect(() => verifyWechatPaySignature({ headers: signed(), body: BODY, keys, now: at(60), toleranceSeconds: 60 })).toThrow(
        TimestampOutOfWindowError,
      );
    });
    it('checks the window before the key, so stale traffic costs no RSA work', () => {
      const headers = signed({ 'Wechatpay-Serial': 'UNKNOWN' });
      expect(() => verifyWechatPaySignature({ headers, body: BODY, keys, now: at(1000) })).toThrow(TimestampOutOfWindowError);
    });
  });

  it('UnknownSerialError for a serial we hold no key for (case-sensitive)', () => {
    const error = failure(() =>
      verifyWechatPaySignature({ headers: signed({ 'Wechatpay-Serial': SERIAL.toLowerCase() }), body: BODY, keys, now }),
    );
    expect(error).toBeInstanceOf(UnknownSerialError);
    expect((error as UnknownSerialError).serial).toBe(SERIAL.toLowerCase());
  });

  it('SignatureProbeError for WECHATPAY/SIGNTEST/ signatures', () => {
    const headers = signed({ 'Wechatpay-Signature': 'WECHATPAY/SIGNTEST/QmFkIHNpZ25hdHVyZQ==' });
    const error = failure(() => verifyWechatPaySignature({ headers, body: BODY, keys, now }));
    expect(error).toBeInstanceOf(SignatureProbeError);
    expect(error).toBeInstanceOf(SignatureVerificationError);
  });

  it('MalformedHeaderError for a signature that is not Base64', () => {
    for (const signature of ['%%%%', 'abc', 'ab=c', 'YWJj ZA==']) {
      const error = failure(() => verifyWechatPaySignature({ headers: signed({ 'Wechatpay-Signature': signature }), body: BODY, keys, now }));
      expect(error).toBeInstanceOf(MalformedHeaderError);
      expect((error as MalformedHeaderError).header).toBe('Wechatpay-Signature');
    }
  });

  it('InvalidSignatureError for a wrong key, tampered body, nonce or timestamp', () => {
    const wrongKey = signed({ 'Wechatpay-Serial': CERT_SERIAL });
    expect(() => verifyWechatPaySignature({ headers: wrongKey, body: BODY, keys, now })).toThrow(InvalidSignatureError);
    expect(() => verifyWechatPaySignature({ headers: signed(), body: `${BODY} `, keys, now })).toThrow(InvalidSignatureError);
    expect(() => verifyWechatPaySignature({ headers: signed({ 'Wechatpay-Nonce': 'x' }), body: BODY, keys, now })).toThrow(
      InvalidSignatureError,
    );
    expect(() =>
      verifyWechatPaySignature({ headers: signed({ 'Wechatpay-Timestamp': String(TS + 1) }), body: BODY, keys, now }),
    ).toThrow(InvalidSignatureError);
    const forged = Buffer.alloc(256, 1).toString('base64');
    expect(() => verifyWechatPaySignature({ headers: signed({ 'Wechatpay-Signature': forged }), body: BODY, keys, now })).toThrow(
      InvalidSignatureError,
    );
  });

  it('follows the documented order: missing header beats bad timestamp beats type beats window beats serial beats probe', () => {
    const all = { 'Wechatpay-Timestamp': 'x', 'Wechatpay-Signature-Type': 'SM2', 'Wechatpay-Serial': 'nope', 'Wechatpay-Signature': 'WECHATPAY/SIGNTEST/x' };
    expect(failure(() => verifyWechatPaySignature({ headers: signed({ ...all, 'Wechatpay-Nonce': undefined }), body: BODY, keys, now }))).toBeInstanceOf(MissingHeaderError);
    expect(failure(() => verifyWechatPaySignature({ headers: signed(all), body: BODY, keys, now }))).toBeInstanceOf(MalformedHeaderError);
    expect(failure(() => verifyWechatPaySignature({ headers: signed({ ...all, 'Wechatpay-Timestamp': '1' }), body: BODY, keys, now }))).toBeInstanceOf(UnsupportedSignatureTypeError);
    const rsa = { ...all, 'Wechatpay-Signature-Type': 'WECHATPAY2-SHA256-RSA2048' };
    expect(failure(() => verifyWechatPaySignature({ headers: signed({ ...rsa, 'Wechatpay-Timestamp': '1' }), body: BODY, keys, now }))).toBeInstanceOf(TimestampOutOfWindowError);
    expect(failure(() => verifyWechatPaySignature({ headers: signed({ ...rsa, 'Wechatpay-Timestamp': String(TS) }), body: BODY, keys, now }))).toBeInstanceOf(UnknownSerialError);
    expect(failure(() => verifyWechatPaySignature({ headers: signed({ ...rsa, 'Wechatpay-Timestamp': String(TS), 'Wechatpay-Serial': SERIAL }), body: BODY, keys, now }))).toBeInstanceOf(SignatureProbeError);
  });
});
