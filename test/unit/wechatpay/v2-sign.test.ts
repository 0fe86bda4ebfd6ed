import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { V2SignatureError, signV2, v2SigningString, verifyV2 } from '../../../shared/wechatpay/index';
import { peer } from './support';

// V10 of docs/wechatpay.md: the official APIv2 signing sample
const V10_PARAMS = { appid: 'wxd930ea5d5a258f4f', mch_id: '10000100', device_info: '1000', body: 'test', nonce_str: 'ibuaiVcKdpRxkhJA' };
const V10_KEY = '192006250b4c09247ec02edce69f6a2d';
const V10_STRING_A = 'appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA';
const V10_MD5 = '9A0A8659F005D6984697E2CA0A9CF3B7';
const V10_HMAC = '6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6';

function failure(fn: () => unknown): V2SignatureError {
  try {
    fn();
  } catch (error) {
    if (error instanceof V2SignatureError) return error;
    throw error;
  }
  throw new Error('expected a throw');
}

describe('V10: official APIv2 sample', () => {
  it('builds stringSignTemp', () => {
    expect(v2SigningString(V10_PARAMS, V10_KEY)).toBe(`${V10_STRING_A}&key=${V10_KEY}`);
  });

  it('signs MD5 to 9A0A8659…', () => {
    expect(signV2(V10_PARAMS, V10_KEY)).toBe(V10_MD5);
    expect(signV2(V10_PARAMS, V10_KEY, 'MD5')).toBe(V10_MD5);
  });

  it('signs HMAC-SHA256 over the string INCLUDING &key= to 6A9AE165…', () => {
    expect(signV2(V10_PARAMS, V10_KEY, 'HMAC-SHA256')).toBe(V10_HMAC);
  });

  it('counter-check: HMAC without &key= gives F734F0E6…, which is wrong', () => {
    const withoutKey = createHmac('sha256', V10_KEY).update(V10_STRING_A).digest('hex').toUpperCase();
    expect(withoutKey.startsWith('F734F0E6')).toBe(true);
    expect(withoutKey).not.toBe(V10_HMAC);
  });

  it('verifies both signs, inferring the algorithm from the length', () => {
    expect(verifyV2({ ...V10_PARAMS, sign: V10_MD5 }, V10_KEY)).toBe('MD5');
    expect(verifyV2({ ...V10_PARAMS, sign: V10_HMAC }, V10_KEY)).toBe('HMAC-SHA256');
    expect(verifyV2({ ...V10_PARAMS, sign: V10_MD5.toLowerCase() }, V10_KEY)).toBe('MD5');
  });

  it('matches the peer library', () => {
    expect(peer.Hash.sign('MD5', V10_PARAMS, V10_KEY)).toBe(V10_MD5);
    expect(peer.Hash.sign('HMAC-SHA256', V10_PARAMS, V10_KEY)).toBe(V10_HMAC);
  });
});

describe('v2SigningString', () => {
  it('skips sign, undefined, null and "" but keeps 0 and "0"', () => {
    expect(
      v2SigningString({ b: '0', a: 0, sign: 'X', c: '', d: undefined, e: null, f: false, sign_type: 'MD5' }, 'K'),
    ).toBe('a=0&b=0&f=false&sign_type=MD5&key=K');
  });

  it('sorts names by byte order (upper case before lower case; case-sensitive)', () => {
    expect(v2SigningString({ b: '1', B: '2', a_b: '3', a: '4', aB: '5' }, 'K')).toBe('B=2&a=4&aB=5&a_b=3&b=1&key=K');
  });

  it('does not URL-encode values', () => {
    expect(v2SigningString({ notify_url: 'https://x.example/n?a=b&c', body: '中文 测试' }, 'K')).toBe(
      'body=中文 测试&notify_url=https://x.example/n?a=b&c&key=K',
    );
  });

  it('uses UTF-8 byte order for non-ASCII names', () => {
    // U+FF21 (EF BC A1) sorts before U+1F600 (F0 9F 98 80) in UTF-8, after it in UTF-16.
    expect(v2SigningString({ '\u{1F600}': '1', '\uFF21': '2' }, 'K')).toBe('\uFF21=2&\u{1F600}=1&key=K');
  });

  it('agrees with the peer on random parameter sets', () => {
    const name = fc.stringMatching(/^[a-z_][a-z0-9_]{0,11}$/);
    const value = fc.oneof(fc.string({ maxLength: 12 }), fc.constant(''), fc.constant('0'));
    fc.assert(
      fc.property(fc.dictionary(name, value, { maxKeys: 12 }), fc.constantFrom<'MD5' | 'HMAC-SHA256'>('MD5', 'HMAC-SHA256'), (params, type) => {
        if ('sign' in params) delete params['sign'];
        // The peer (Object.entries after ksort) mishandles integer-like names; they never occur in WeChat fields.
        expect(signV2(params, 'k3y', type)).toBe(peer.Hash.sign(type, params, 'k3y'));
      }),
      { numRuns: 200 },
    );
  });
});

describe('verifyV2', () => {
  const signedMd5 = { ...V10_PARAMS, sign: V10_MD5 };

  it('uses sign_type when present', () => {
    const params = { ...V10_PARAMS, sign_type: 'HMAC-SHA256' };
    expect(verifyV2({ ...params, sign: signV2(params, V10_KEY, 'HMAC-SHA256') }, V10_KEY)).toBe('HMAC-SHA256');
    // a 64-char sign under sign_type=MD5 is refused
    const declaredMd5 = { ...V10_PARAMS, sign_type: 'MD5' };
    expect(failure(() => verifyV2({ ...declaredMd5, sign: V10_HMAC }, V10_KEY)).reason).toBe('bad_sign_length');
  });

  it('rejects an unknown sign_type', () => {
    expect(failure(() => verifyV2({ ...signedMd5, sign_type: 'SHA1' }, V10_KEY)).reason).toBe('unknown_sign_type');
  });

  it('rejects a sign type other than the expected one', () => {
    expect(failure(() => verifyV2(signedMd5, V10_KEY, { expectedSignType: 'HMAC-SHA256' })).reason).toBe('sign_type_mismatch');
    const declared = { ...V10_PARAMS, sign_type: 'MD5' };
    expect(failure(() => verifyV2({ ...declared, sign: signV2(declared, V10_KEY) }, V10_KEY, { expectedSignType: 'HMAC-SHA256' })).reason).toBe(
      'sign_type_mismatch',
    );
    expect(verifyV2(signedMd5, V10_KEY, { expectedSignType: 'MD5' })).toBe('MD5');
  });

  it('rejects missing signs and signs of unusable length', () => {
    expect(failure(() => verifyV2(V10_PARAMS, V10_KEY)).reason).toBe('missing_sign');
    expect(failure(() => verifyV2({ ...V10_PARAMS, sign: '' }, V10_KEY)).reason).toBe('missing_sign');
    expect(failure(() => verifyV2({ ...V10_PARAMS, sign: 'ABC' }, V10_KEY)).reason).toBe('bad_sign_length');
  });

  it('rejects a wrong sign, a changed field, an added field and the wrong key', () => {
    expect(failure(() => verifyV2({ ...signedMd5, sign: `${V10_MD5.slice(0, -1)}8` }, V10_KEY)).reason).toBe('mismatch');
    expect(failure(() => verifyV2({ ...signedMd5, body: 'test2' }, V10_KEY)).reason).toBe('mismatch');
    expect(failure(() => verifyV2({ ...signedMd5, coupon_fee_0: '1' }, V10_KEY)).reason).toBe('mismatch');
    expect(failure(() => verifyV2(signedMd5, 'x'.repeat(32))).reason).toBe('mismatch');
  });

  it('ignores empty fields on both sides, as the rule says', () => {
    expect(verifyV2({ ...signedMd5, attach: '' }, V10_KEY)).toBe('MD5');
  });
});
