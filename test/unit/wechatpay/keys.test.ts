import { createPublicKey, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  InvalidKeyError,
  buildVerifierKeys,
  certificateSerial,
  preferredEncryptionKey,
  privateKeyFrom,
  publicKeyFrom,
} from '../../../shared/wechatpay/index';
import {
  MERCHANT_CERTIFICATE_PEM,
  MERCHANT_PRIVATE_KEY_PEM,
  WECHATPAY_CERTIFICATE_PEM,
  WECHATPAY_PUBLIC_KEY_PEM,
  generateRsaKeyPair,
} from './support';

describe('keys', () => {
  it('parses a private key once and caches it by PEM text', () => {
    const first = privateKeyFrom(MERCHANT_PRIVATE_KEY_PEM);
    expect(first.type).toBe('private');
    expect(privateKeyFrom(MERCHANT_PRIVATE_KEY_PEM)).toBe(first);
    expect(privateKeyFrom(first)).toBe(first);
  });

  it('accepts PKCS#1 RSA PRIVATE KEY as well', () => {
    const pkcs1 = privateKeyFrom(MERCHANT_PRIVATE_KEY_PEM).export({ type: 'pkcs1', format: 'pem' }).toString();
    expect(pkcs1).toContain('BEGIN RSA PRIVATE KEY');
    expect(privateKeyFrom(pkcs1).asymmetricKeyType).toBe('rsa');
  });

  it('reads PUBLIC KEY, RSA PUBLIC KEY and CERTIFICATE PEMs', () => {
    const spki = publicKeyFrom(WECHATPAY_PUBLIC_KEY_PEM);
    expect(spki.type).toBe('public');
    expect(publicKeyFrom(WECHATPAY_PUBLIC_KEY_PEM)).toBe(spki);

    const pkcs1 = spki.export({ type: 'pkcs1', format: 'pem' }).toString();
    expect(pkcs1).toContain('BEGIN RSA PUBLIC KEY');
    expect(publicKeyFrom(pkcs1).equals(spki)).toBe(true);

    const fromCert = publicKeyFrom(MERCHANT_CERTIFICATE_PEM);
    expect(fromCert.equals(new X509Certificate(MERCHANT_CERTIFICATE_PEM).publicKey)).toBe(true);
    expect(fromCert.equals(createPublicKey(privateKeyFrom(MERCHANT_PRIVATE_KEY_PEM)))).toBe(true);
  });

  it('derives (and caches) the public half of a private KeyObject', () => {
    const pair = generateRsaKeyPair();
    const derived = publicKeyFrom(pair.privateKey);
    expect(derived.equals(pair.publicKey)).toBe(true);
    expect(publicKeyFrom(pair.privateKey)).toBe(derived);
  });

  it('rejects unparseable keys without echoing them', () => {
    const secret = '-----BEGIN PRIVATE KEY-----\nc2VjcmV0LW1hdGVyaWFs\n-----END PRIVATE KEY-----\n';
    expect(() => privateKeyFrom(secret)).toThrow(InvalidKeyError);
    try {
      privateKeyFrom(secret);
    } catch (error) {
      expect((error as Error).message).not.toContain('c2VjcmV0');
    }
    expect(() => publicKeyFrom('not a pem')).toThrow(InvalidKeyError);
    expect(() => privateKeyFrom(publicKeyFrom(WECHATPAY_PUBLIC_KEY_PEM))).toThrow(InvalidKeyError);
    expect(() => buildVerifierKeys({ PUB_KEY_ID_1: 'garbage' })).toThrow(/PUB_KEY_ID_1/);
  });

  it('builds an exact, case-sensitive serial → key map for public-key and certificate mode at once', () => {
    const keys = buildVerifierKeys({
      PUB_KEY_ID_0114232134912410000000000000: WECHATPAY_PUBLIC_KEY_PEM,
      '440024045C4A427599D09BB4E3DE0279F2E813FD': WECHATPAY_CERTIFICATE_PEM,
    });
    expect(keys.size).toBe(2);
    expect(keys.get('440024045C4A427599D09BB4E3DE0279F2E813FD')?.type).toBe('public');
    expect(keys.get('440024045c4a427599d09bb4e3de0279f2e813fd')).toBeUndefined();
    expect(keys.get('pub_key_id_0114232134912410000000000000')).toBeUndefined();
  });

  it('reads certificate serials as upper-case hex', () => {
    expect(certificateSerial(MERCHANT_CERTIFICATE_PEM)).toBe('5F1C72E2A8931B72A2E13AF8DEE92471EB397115');
    expect(certificateSerial(WECHATPAY_CERTIFICATE_PEM)).toBe('440024045C4A427599D09BB4E3DE0279F2E813FD');
    expect(() => certificateSerial(WECHATPAY_PUBLIC_KEY_PEM)).toThrow(InvalidKeyError);
  });

  describe('the encryption key is chosen, not taken in map order', () => {
    // Both fixture certificates are valid 2022-05-10 … 2025-05-09; WeChat's was issued 7 minutes after the merchant's.
    const during = Date.parse('2023-06-01T00:00:00Z');
    const WECHAT = '440024045C4A427599D09BB4E3DE0279F2E813FD';
    const OLDER = '5F1C72E2A8931B72A2E13AF8DEE92471EB397115';

    it('a WeChat Pay public key (PUB_KEY_ID_…) wins wherever it is, and never expires', () => {
      const mixed = { [WECHAT]: WECHATPAY_CERTIFICATE_PEM, PUB_KEY_ID_01: WECHATPAY_PUBLIC_KEY_PEM };
      expect(preferredEncryptionKey(mixed, during)?.id).toBe('PUB_KEY_ID_01');
      expect(preferredEncryptionKey(mixed, Date.parse('2099-01-01T00:00:00Z'))?.id).toBe('PUB_KEY_ID_01');
    });

    it('else the valid certificate that became valid last, in either order', () => {
      expect(preferredEncryptionKey({ [OLDER]: MERCHANT_CERTIFICATE_PEM, [WECHAT]: WECHATPAY_CERTIFICATE_PEM }, during)?.id).toBe(WECHAT);
      expect(preferredEncryptionKey({ [WECHAT]: WECHATPAY_CERTIFICATE_PEM, [OLDER]: MERCHANT_CERTIFICATE_PEM }, during)?.id).toBe(WECHAT);
      const chosen = preferredEncryptionKey({ [WECHAT]: WECHATPAY_CERTIFICATE_PEM }, during);
      expect(chosen?.publicKey.equals(publicKeyFrom(WECHATPAY_CERTIFICATE_PEM))).toBe(true);
    });

    it('never an expired or not-yet-valid certificate', () => {
      const certs = { [OLDER]: MERCHANT_CERTIFICATE_PEM, [WECHAT]: WECHATPAY_CERTIFICATE_PEM };
      expect(preferredEncryptionKey(certs, Date.parse('2025-05-09T02:04:31Z'))).toBeUndefined();
      expect(preferredEncryptionKey(certs, Date.parse('2022-05-10T01:00:00Z'))).toBeUndefined();
      // Between the two issue times only the older one is valid yet.
      expect(preferredEncryptionKey(certs, Date.parse('2022-05-10T02:00:00Z'))?.id).toBe(OLDER);
      expect(preferredEncryptionKey({})).toBeUndefined();
    });
  });
});
