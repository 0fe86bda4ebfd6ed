import { describe, expect, it } from 'vitest';
import {
  DecryptionError,
  PlaintextTooLongError,
  decryptSensitive,
  encryptSensitive,
  publicKeyFrom,
} from '../../../shared/wechatpay/index';
import { MERCHANT_CERTIFICATE_PEM, MERCHANT_PRIVATE_KEY_PEM, generateRsaKeyPair, peer } from './support';

// V9 of docs/wechatpay.md (Java RSAPrivacyDecryptorTest)
const V9_CIPHERTEXT =
  'Qqsluo7R1IZyAqdkm/jBzwXDP5VndCwwFbRA+yILFTYciZzrRChQIQ7SKuI2k3YSR5auB3ZspdjR1WPB3PTCKe6BCFx3NnaPWhSwonYTmW8ZseXjkbcYSbKL5O/6dr6Zftg3t2A2FUd97acjM1fr2EIvIvRieQ3Hl8qVkDBY9520wm1rzvePUnxQWN70RZiBcqr7O7Gb0gU3l7FkvoUFSbY44HgDJetmVow3yGIV3Tcd45o2MNQ+5F1qvjIjb3/6dkGKce4/kNTYraUMO6o6kfFXlfg+bFRIiz8hiUpbToWdu7g0R5Hq0/YIE5vw/5Ms4gbk2HIQIfOLkY8sEPjYHA==';

describe('V9: RSA-OAEP(SHA-1) decryption', () => {
  it('decrypts the Java vector to "plaintext"', () => {
    expect(decryptSensitive(V9_CIPHERTEXT, MERCHANT_PRIVATE_KEY_PEM)).toBe('plaintext');
  });

  it('fails on MTIzNA==', () => {
    expect(() => decryptSensitive('MTIzNA==', MERCHANT_PRIVATE_KEY_PEM)).toThrow(DecryptionError);
  });

  it('fails on non-Base64 input', () => {
    expect(() => decryptSensitive('***', MERCHANT_PRIVATE_KEY_PEM)).toThrow(DecryptionError);
  });
});

describe('encryptSensitive', () => {
  const key = { id: 'PUB_KEY_ID_0114232134912410000000000000', publicKey: MERCHANT_CERTIFICATE_PEM };

  it('round-trips names and ID numbers and reports the serial to send', () => {
    for (const plaintext of ['张三', '110101199003077777', '']) {
      const { ciphertext, serial } = encryptSensitive(plaintext, key);
      expect(serial).toBe(key.id);
      expect(Buffer.from(ciphertext, 'base64')).toHaveLength(256);
      expect(decryptSensitive(ciphertext, MERCHANT_PRIVATE_KEY_PEM)).toBe(plaintext);
    }
  });

  it('is randomized (OAEP), so equal inputs give different ciphertexts', () => {
    expect(encryptSensitive('张三', key).ciphertext).not.toBe(encryptSensitive('张三', key).ciphertext);
  });

  it('accepts up to 214 bytes for a 2048-bit key and rejects 215', () => {
    expect(decryptSensitive(encryptSensitive('a'.repeat(214), key).ciphertext, MERCHANT_PRIVATE_KEY_PEM)).toHaveLength(214);
    let error: unknown;
    try {
      encryptSensitive('a'.repeat(215), key);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(PlaintextTooLongError);
    expect([(error as PlaintextTooLongError).byteLength, (error as PlaintextTooLongError).maxBytes]).toEqual([215, 214]);
    // Counted in UTF-8 bytes: 72 CJK characters are 216 bytes.
    expect(() => encryptSensitive('中'.repeat(72), key)).toThrow(PlaintextTooLongError);
    expect((error as Error).message).not.toContain('aaaa');
  });

  it('derives the limit from the modulus (modulusBytes − 42)', () => {
    const small = generateRsaKeyPair(1024);
    const smallKey = { id: 'K', publicKey: small.publicKey };
    expect(() => encryptSensitive('a'.repeat(86), smallKey)).not.toThrow();
    expect(() => encryptSensitive('a'.repeat(87), smallKey)).toThrow(PlaintextTooLongError);
  });

  it('interoperates with the peer library both ways', () => {
    const ours = encryptSensitive('李四', key).ciphertext;
    expect(peer.Rsa.decrypt(ours, MERCHANT_PRIVATE_KEY_PEM)).toBe('李四');
    const theirs = peer.Rsa.encrypt('王五', publicKeyFrom(MERCHANT_CERTIFICATE_PEM));
    expect(decryptSensitive(theirs, MERCHANT_PRIVATE_KEY_PEM)).toBe('王五');
  });
});
