import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { V2SignatureError } from '../errors';

export type V2SignType = 'MD5' | 'HMAC-SHA256';
export type V2ParamValue = string | number | boolean | null | undefined;
export type V2Params = Readonly<Record<string, V2ParamValue>>;
/**
 * Constraint for parameter objects: accepts records and also interfaces, which TypeScript will not
 * assign to an index-signature type like `V2Params`.
 */
export type V2ParamsLike<P> = { readonly [K in keyof P]: V2ParamValue };

const NON_ASCII = /[^\u0000-\u007f]/;

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * `k1=v1&k2=v2…&key=<APIv2 key>`: every parameter except `sign` whose value is non-empty, names in
 * byte order, raw (un-URL-encoded) values. `undefined`, `null` and '' are skipped; '0' and 0 are kept.
 */
export function v2SigningString<P extends V2ParamsLike<P>>(input: P, key: string): string {
  const params = input as V2Params;
  const names: string[] = [];
  for (const name of Object.keys(params)) {
    const value = params[name];
    if (name !== 'sign' && value !== undefined && value !== null && value !== '') names.push(name);
  }
  // Default sort compares UTF-16 units, which equals UTF-8 byte order for ASCII — the only names
  // WeChat uses. Anything else gets the exact (slower) byte comparison.
  names.sort();
  if (names.some((name) => NON_ASCII.test(name))) names.sort(byteOrder);
  // stringA + '&key=' + key, literally: with no parameters at all that still starts with '&'.
  let text = '';
  for (const name of names) text += `${name}=${params[name]}&`;
  return `${text === '' ? '&' : text}key=${key}`;
}

/**
 * Upper-case hex sign. HMAC-SHA256 is computed over the SAME string as MD5, `&key=…` included, keyed
 * with the APIv2 key: the official sample values only match that form.
 */
export function signV2<P extends V2ParamsLike<P>>(params: P, key: string, signType: V2SignType = 'MD5'): string {
  const text = v2SigningString(params, key);
  const digest = signType === 'MD5' ? createHash('md5') : createHmac('sha256', key);
  return digest.update(text, 'utf8').digest('hex').toUpperCase();
}

function resolveSignType(params: V2Params, sign: string, expected: V2SignType | undefined): V2SignType {
  const declared = params['sign_type'];
  let signType: V2SignType;
  if (declared !== undefined && declared !== null && declared !== '') {
    if (declared !== 'MD5' && declared !== 'HMAC-SHA256') {
      throw new V2SignatureError('unknown_sign_type', `unknown sign_type ${JSON.stringify(String(declared))}`);
    }
    signType = declared;
  } else if (sign.length === 64) {
    // No sign_type: infer from the digest length, as WeChat has been seen to MD5-sign notifications
    // of HMAC orders.
    signType = 'HMAC-SHA256';
  } else if (sign.length === 32) {
    signType = 'MD5';
  } else {
    throw new V2SignatureError('bad_sign_length', `sign has ${sign.length} characters; expected 32 (MD5) or 64 (HMAC-SHA256)`);
  }
  if (expected !== undefined && signType !== expected) {
    throw new V2SignatureError('sign_type_mismatch', `sign type ${signType} where ${expected} was required`);
  }
  return signType;
}

export interface VerifyV2Options {
  /** Require this algorithm (e.g. the one we requested with). */
  expectedSignType?: V2SignType | undefined;
}

/** Throws `V2SignatureError` unless `params.sign` is the sign of the other parameters. Returns the algorithm. */
export function verifyV2<P extends V2ParamsLike<P>>(input: P, key: string, options: VerifyV2Options = {}): V2SignType {
  const params = input as V2Params;
  const received = params['sign'];
  if (typeof received !== 'string' || received === '') throw new V2SignatureError('missing_sign', 'sign is missing');
  const signType = resolveSignType(params, received, options.expectedSignType);
  const expectedHex = signV2(params, key, signType);
  const expected = Buffer.from(expectedHex, 'latin1');
  const actual = Buffer.from(received.toUpperCase(), 'latin1');
  // Lengths are public (fixed by the algorithm); only the content comparison must be constant-time.
  if (actual.length !== expected.length) {
    throw new V2SignatureError('bad_sign_length', `sign length ${received.length} does not fit ${signType}`);
  }
  if (!timingSafeEqual(actual, expected)) throw new V2SignatureError('mismatch', 'sign does not match');
  return signType;
}
