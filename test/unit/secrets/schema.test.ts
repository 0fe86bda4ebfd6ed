import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseMerchantSecret, redact, SecretsError, validateMerchantSecret } from '../../../shared/secrets';
import { API_V3_KEY, expectNoSecretMaterial, MERCHANT_CERTIFICATE, MERCHANT_PRIVATE_KEY, validSecret, WECHATPAY_CERTIFICATE } from './fixtures';

function failure(fn: () => unknown): SecretsError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SecretsError);
    const e = error as SecretsError;
    expectNoSecretMaterial(e.message);
    expectNoSecretMaterial(JSON.stringify(e.problems));
    expectNoSecretMaterial(inspect(e, { depth: 10 }));
    return e;
  }
  throw new Error('expected a SecretsError');
}

describe('validateMerchantSecret', () => {
  it('accepts the contract shape with public keys and certificates side by side', () => {
    const secret = validateMerchantSecret(validSecret(), 'wechatpay/direct-merchant');
    expect(secret.mchid).toBe('1900000001');
    expect(secret.apiV3Key).toBe(API_V3_KEY);
    expect(Object.keys(secret.wechatpayPublicKeys)).toEqual([
      'PUB_KEY_ID_0114232134912410000000000000',
      '5157F09EFDC096DE15EBE81A47057A7232F1B8E1',
    ]);
  });

  it('accepts a secret without the optional apiV2Key', () => {
    const { apiV2Key: _a, ...rest } = validSecret();
    const secret = validateMerchantSecret(rest, 'wechatpay/service-provider');
    expect(secret.apiV2Key).toBeUndefined();
  });

  it('takes the merchant API certificate (for mutual TLS) only when it is the certificate of the private key', () => {
    const secret = validateMerchantSecret(validSecret({ merchantCertificate: MERCHANT_CERTIFICATE }), 'id');
    expect(secret.merchantCertificate).toBe(MERCHANT_CERTIFICATE);
    expect(JSON.stringify(secret)).toContain('"merchantCertificate":"[present]"');
    // Another key pair's certificate would fail WeChat's TLS handshake: refused here, naming the field.
    expect(() => validateMerchantSecret(validSecret({ merchantCertificate: WECHATPAY_CERTIFICATE }), 'id')).toThrow(
      /"merchantCertificate" must be the certificate of merchantPrivateKey/,
    );
    expect(() => validateMerchantSecret(validSecret({ merchantCertificate: 'not a pem' }), 'id')).toThrow(/"merchantCertificate" must be a PEM/);
    expect(() => validateMerchantSecret(validSecret({ merchantCertificate: MERCHANT_PRIVATE_KEY }), 'id')).toThrow(/"merchantCertificate"/);
  });

  it('requires fingerprint keys of at least 32 bytes: idempotency must not hang on a WeChat key', () => {
    const { fingerprintKeys: _f, ...rest } = validSecret();
    expect(() => validateMerchantSecret(rest, 'id')).toThrow(/"fingerprintKeys" is missing/);
    expect(() => validateMerchantSecret(validSecret({ fingerprintKeys: {} }), 'id')).toThrow(/fingerprintKeys/);
    expect(() => validateMerchantSecret(validSecret({ fingerprintKeys: { k: 'short' } }), 'id')).toThrow(/at least 32 bytes/);
    expect(() => validateMerchantSecret(validSecret({ fingerprintKeys: { 'bad:id': 'x'.repeat(32) } }), 'id')).toThrow(/key ids/);
  });

  it('returns a frozen object that logs and serializes redacted', () => {
    const secret = validateMerchantSecret(validSecret(), 'id');
    expect(Object.isFrozen(secret)).toBe(true);
    expect(Object.isFrozen(secret.wechatpayPublicKeys)).toBe(true);
    expectNoSecretMaterial(JSON.stringify(secret));
    expectNoSecretMaterial(inspect(secret));
    expect(JSON.parse(JSON.stringify(secret))).toMatchObject({ mchid: '1900000001', apiV3Key: '[redacted]' });
    // the values stay readable for the code that needs them
    expect(secret.merchantPrivateKey).toBe(MERCHANT_PRIVATE_KEY);
    expect({ ...secret }.apiV3Key).toBe(API_V3_KEY);
  });

  it('names a missing field', () => {
    const { apiV3Key: _omit, ...rest } = validSecret();
    const e = failure(() => validateMerchantSecret(rest, 'wechatpay/direct-merchant'));
    expect(e.code).toBe('invalid_secret');
    expect(e.secretId).toBe('wechatpay/direct-merchant');
    expect(e.message).toBe('secret "wechatpay/direct-merchant" is invalid: "apiV3Key" is missing');
    expect(e.problems).toEqual([{ field: 'apiV3Key', problem: 'is missing' }]);
  });

  it('lists every problem without quoting values', () => {
    const e = failure(() =>
      validateMerchantSecret(
        validSecret({ mchid: 'abc', apiV3Key: `${API_V3_KEY}x`, merchantPrivateKey: 'not a key' }),
        'id',
      ),
    );
    expect(e.problems.map((p) => p.field)).toEqual(['mchid', 'merchantPrivateKey', 'apiV3Key']);
    expect(e.message).toContain('"apiV3Key" must be exactly 32 bytes');
    expect(e.message).toContain('"merchantPrivateKey" must be a PEM-encoded RSA private key');
  });

  it('rejects an apiV3Key of 32 characters but not 32 bytes', () => {
    const e = failure(() => validateMerchantSecret(validSecret({ apiV3Key: 'é'.repeat(16) + 'a'.repeat(16) }), 'id'));
    expect(e.problems).toEqual([{ field: 'apiV3Key', problem: 'must be exactly 32 bytes' }]);
  });

  it('requires at least one WeChat Pay key', () => {
    const e = failure(() => validateMerchantSecret(validSecret({ wechatpayPublicKeys: {} }), 'id'));
    expect(e.problems).toEqual([
      { field: 'wechatpayPublicKeys', problem: 'must hold at least one WeChat Pay public key or certificate' },
    ]);
    const missing = failure(() => validateMerchantSecret(validSecret({ wechatpayPublicKeys: undefined }), 'id'));
    expect(missing.problems).toEqual([{ field: 'wechatpayPublicKeys', problem: 'is missing' }]);
    const list = failure(() => validateMerchantSecret(validSecret({ wechatpayPublicKeys: [] }), 'id'));
    expect(list.problems[0]?.field).toBe('wechatpayPublicKeys');
  });

  it('refuses a private key among the verification keys, naming the key id (not the PEM)', () => {
    const e = failure(() =>
      validateMerchantSecret(validSecret({ wechatpayPublicKeys: { PUB_KEY_ID_1: MERCHANT_PRIVATE_KEY } }), 'id'),
    );
    expect(e.problems).toEqual([
      { field: 'wechatpayPublicKeys.PUB_KEY_ID_1', problem: 'must be a PEM RSA public key or certificate' },
    ]);
  });

  it('refuses a PEM-looking private key that does not parse', () => {
    const broken = MERCHANT_PRIVATE_KEY.replace(/\n[A-Za-z0-9+/]{20}/, '\n!!!!');
    const e = failure(() => validateMerchantSecret(validSecret({ merchantPrivateKey: broken }), 'id'));
    expect(e.problems[0]?.field).toBe('merchantPrivateKey');
  });

  it('rejects wrong types without echoing them', () => {
    const e = failure(() => validateMerchantSecret(validSecret({ apiV3Key: 12345, appid: '' }), 'id'));
    expect(e.problems).toEqual([
      { field: 'appid', problem: 'must not be empty (the app id)' },
      { field: 'apiV3Key', problem: 'must be a string' },
    ]);
    expect(e.message).not.toContain('12345');
  });

  it('rejects a non-object', () => {
    const e = failure(() => validateMerchantSecret([API_V3_KEY], 'id'));
    expect(e.message).toBe('secret "id" is invalid: "(root)" must be a JSON object');
  });
});

describe('parseMerchantSecret', () => {
  it('parses JSON text', () => {
    expect(parseMerchantSecret(JSON.stringify(validSecret()), 'id').appid).toBe('wx8888888888888888');
  });

  it('reports invalid JSON with a position but no snippet of the text', () => {
    const text = `{"apiV3Key": "${API_V3_KEY}" oops}`;
    const e = failure(() => parseMerchantSecret(text, 'wechatpay/direct-merchant'));
    expect(e.code).toBe('invalid_json');
    expect(e.message).toMatch(/^secret "wechatpay\/direct-merchant" is not valid JSON/);
    expect(e.message).not.toContain('oops');
    expect(e.cause).toBeUndefined();
  });

  it('does not quote the text for an unexpected-token error either', () => {
    const e = failure(() => parseMerchantSecret(`${API_V3_KEY}`, 'id'));
    expect(e.message).not.toContain(API_V3_KEY.slice(0, 6));
  });
});

describe('redact', () => {
  it('keeps identifiers and key ids, hides key material', () => {
    const secret = validateMerchantSecret(validSecret(), 'id');
    expect(redact(secret)).toEqual({
      mchid: '1900000001',
      appid: 'wx8888888888888888',
      merchantSerialNo: '3775B6A45ACD588826D15E583A95F5DD2E0A9A1F',
      merchantPrivateKey: '[redacted]',
      apiV3Key: '[redacted]',
      apiV2Key: '[redacted]',
      wechatpayPublicKeys: ['PUB_KEY_ID_0114232134912410000000000000', '5157F09EFDC096DE15EBE81A47057A7232F1B8E1'],
      fingerprintKeys: ['fp-1'],
    });
  });
});
