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

  it('prefers the first PUB_KEY_ID_ key for encryption, else the first key', () => {
    const certOnly = buildVerifierKeys({ '440024045C4A427599D09BB4E3DE0279F2E813FD': WECHATPAY_CERTIFICATE_PEM });
    expect(preferredEncryptionKey(certOnly)?.id).toBe('440024045C4A427599D09BB4E3DE0279F2E813FD');
    const mixed = buildVerifierKeys({
      '440024045C4A427599D09BB4E3DE0279F2E813FD': WECHATPAY_CERTIFICATE_PEM,
      PUB_KEY_ID_01: WECHATPAY_PUBLIC_KEY_PEM,
    });
    expect(preferredEncryptionKey(mixed)?.id).toBe('PUB_KEY_ID_01');
    expect(preferredEncryptionKey(new Map())).toBeUndefined();
  });
});
