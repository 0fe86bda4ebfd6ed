import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildVerifierKeys,
  decryptAeadAes256Gcm,
  encryptAeadAes256Gcm,
  rsaSha256Sign,
  rsaSha256Verify,
  signV2,
  signatureMessage,
  verifyV2,
  verifyWechatPaySignature,
} from '../../../shared/wechatpay/index';
import { generateRsaKeyPair, peer } from './support';

// Property-based agreement with wechatpay-axios-plugin, an implementation written independently of ours.
const pair = generateRsaKeyPair();
const keys = buildVerifierKeys({ PUB_KEY_ID_X: pair.publicPem });
const TS = 1_700_000_000;
const now = () => TS * 1000;
const text = fc.string({ unit: 'grapheme', maxLength: 200 });
const nonce = fc.stringMatching(/^[0-9A-Za-z]{32}$/);

describe('cross-check with wechatpay-axios-plugin', () => {
  it('our request signatures verify with the peer, and the peer builds the same message', () => {
    fc.assert(
      fc.property(fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE'), text, nonce, (method, body, n) => {
        const message = signatureMessage(method, '/v3/x?y=1', TS, n, body);
        expect(message).toBe(peer.Formatter.request(method, '/v3/x?y=1', TS, n, body));
        expect(peer.Rsa.verify(message, rsaSha256Sign(message, pair.privateKey), pair.publicKey)).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it('responses signed by the peer verify with us (round trip with generated keys)', () => {
    fc.assert(
      fc.property(text, nonce, (body, n) => {
        const signature = peer.Rsa.sign(peer.Formatter.response(TS, n, body), pair.privateKey);
        const headers = { 'wechatpay-timestamp': String(TS), 'wechatpay-nonce': n, 'wechatpay-signature': signature, 'wechatpay-serial': 'PUB_KEY_ID_X' };
        expect(verifyWechatPaySignature({ headers, body, keys, now }).serial).toBe('PUB_KEY_ID_X');
        expect(verifyWechatPaySignature({ headers, body: Buffer.from(body, 'utf8'), keys, now }).serial).toBe('PUB_KEY_ID_X');
        expect(rsaSha256Verify(peer.Formatter.response(TS, n, body), signature, pair.publicKey)).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it('AES-256-GCM agrees in both directions', () => {
    const key = 'a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb';
    fc.assert(
      fc.property(text, fc.stringMatching(/^[0-9A-Za-z]{12}$/), fc.stringMatching(/^[a-z_]{0,15}$/), (plaintext, iv, aad) => {
        const ours = encryptAeadAes256Gcm(plaintext, iv, aad, key);
        expect(ours).toBe(peer.Aes.AesGcm.encrypt(plaintext, key, iv, aad));
        expect(peer.Aes.AesGcm.decrypt(ours, key, iv, aad)).toBe(plaintext);
        expect(decryptAeadAes256Gcm({ ciphertext: ours, nonce: iv, associatedData: aad }, key).toString('utf8')).toBe(plaintext);
      }),
      { numRuns: 100 },
    );
  });

  it('APIv2 signs agree and verify both ways', () => {
    const params = fc.dictionary(fc.stringMatching(/^[a-z][a-z_]{0,11}$/), fc.string({ maxLength: 16 }), { minKeys: 1, maxKeys: 10 });
    fc.assert(
      fc.property(params, fc.constantFrom<'MD5' | 'HMAC-SHA256'>('MD5', 'HMAC-SHA256'), (p, type) => {
        delete p['sign'];
        delete p['sign_type'];
        const theirs = peer.Hash.sign(type, p, 'k'.repeat(32));
        expect(signV2(p, 'k'.repeat(32), type)).toBe(theirs);
        expect(verifyV2({ ...p, sign: theirs }, 'k'.repeat(32))).toBe(type);
      }),
      { numRuns: 100 },
    );
  });

  it('nonces look like the peer nonces (32 × [0-9A-Za-z])', () => {
    expect(peer.Formatter.nonce()).toMatch(/^[0-9A-Za-z]{32}$/);
  });
});
