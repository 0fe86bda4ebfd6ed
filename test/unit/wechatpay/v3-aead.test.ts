import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  DecryptionError,
  InvalidApiV3KeyError,
  certificateSerial,
  decryptAeadAes256Gcm,
  encryptAeadAes256Gcm,
} from '../../../shared/wechatpay/index';
import { JAVA_APIV3_KEY, peer, vector } from './support';

function failure(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('V5: Java AeadAesCipherTest', () => {
  const resource = { ciphertext: 'ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=', nonce: 'uluk4a9R25RW', associatedData: 'associatedData' };

  it('decrypts to "message"', () => {
    expect(decryptAeadAes256Gcm(resource, JAVA_APIV3_KEY).toString('utf8')).toBe('message');
    expect(decryptAeadAes256Gcm(resource, Buffer.from(JAVA_APIV3_KEY)).toString('utf8')).toBe('message');
  });

  it('encrypts "message" to the published ciphertext', () => {
    expect(encryptAeadAes256Gcm('message', 'uluk4a9R25RW', 'associatedData', JAVA_APIV3_KEY)).toBe(resource.ciphertext);
  });

  it('fails with bad associated data or a bad nonce', () => {
    expect(() => decryptAeadAes256Gcm({ ...resource, associatedData: 'bad-associatedData' }, JAVA_APIV3_KEY)).toThrow(DecryptionError);
    expect(() => decryptAeadAes256Gcm({ ...resource, nonce: 'bad-4a9R25RW' }, JAVA_APIV3_KEY)).toThrow(DecryptionError);
  });
});

describe('V6: Java platform-certificate download', () => {
  it('decrypts the certificate, whose serial is 5DEA10EF55877E3CF6C33255C2E7DEFFF7E427EC', () => {
    const response = JSON.parse(vector('java_download_certificate_response.json')) as {
      data: { serial_no: string; encrypt_certificate: { algorithm: string; nonce: string; associated_data: string; ciphertext: string } }[];
    };
    const entry = response.data[0];
    if (entry === undefined) throw new Error('fixture has no data[0]');
    const { encrypt_certificate: sealed } = entry;
    expect(sealed.algorithm).toBe('AEAD_AES_256_GCM');
    expect([sealed.nonce, sealed.associated_data]).toEqual(['14b16c03dc1b', 'certificate']);
    const pem = decryptAeadAes256Gcm(
      { ciphertext: sealed.ciphertext, nonce: sealed.nonce, associatedData: sealed.associated_data },
      JAVA_APIV3_KEY,
    ).toString('utf8');
    expect(pem).toContain('-----BEGIN CERTIFICATE-----');
    expect(certificateSerial(pem)).toBe('5DEA10EF55877E3CF6C33255C2E7DEFFF7E427EC');
    expect(entry.serial_no).toBe('5DEA10EF55877E3CF6C33255C2E7DEFFF7E427EC');
    expect(new X509Certificate(pem).publicKey.asymmetricKeyType).toBe('rsa');
  });
});

describe('V7: Go aes_test.go (16-byte key)', () => {
  const resource = { ciphertext: 'FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC', nonce: 'wCq51qZv4Yfg', associatedData: 'Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8' };

  it('is REJECTED: WeChat Pay APIv3 keys are 32 bytes, a 16-byte key would silently mean AES-128', () => {
    const error = failure(() => decryptAeadAes256Gcm(resource, 'testAPIv3Key0000'));
    expect(error).toBeInstanceOf(InvalidApiV3KeyError);
    expect((error as InvalidApiV3KeyError).byteLength).toBe(16);
    expect((error as Error).message).not.toContain('testAPIv3Key0000');
  });

  it('rejects its other negative keys too', () => {
    expect(() => decryptAeadAes256Gcm(resource, 'testAPIv3Key1111')).toThrow(InvalidApiV3KeyError);
    expect(() => decryptAeadAes256Gcm(resource, 'not a aes key')).toThrow(InvalidApiV3KeyError);
    expect(() => decryptAeadAes256Gcm(resource, Buffer.alloc(16))).toThrow(InvalidApiV3KeyError);
  });

  it('its short ciphertext SGVsbG8gV29ybGQK fails under a valid key', () => {
    expect(() => decryptAeadAes256Gcm({ ...resource, ciphertext: 'SGVsbG8gV29ybGQK' }, JAVA_APIV3_KEY)).toThrow(DecryptionError);
  });
});

describe('V12b: empty associated data', () => {
  it('decrypts {"a":1} with associated_data ""', () => {
    const resource = { ciphertext: 'LYUG3ij9nR67FcBbijOVuog07HMz5Gk=', nonce: '0123456789ab', associatedData: '' };
    expect(decryptAeadAes256Gcm(resource, JAVA_APIV3_KEY).toString('utf8')).toBe('{"a":1}');
    expect(decryptAeadAes256Gcm({ ciphertext: resource.ciphertext, nonce: resource.nonce }, JAVA_APIV3_KEY).toString()).toBe('{"a":1}');
    expect(() => decryptAeadAes256Gcm({ ...resource, associatedData: 'transaction' }, JAVA_APIV3_KEY)).toThrow(DecryptionError);
  });
});

describe('AEAD_AES_256_GCM', () => {
  it('round-trips unicode and empty plaintexts', () => {
    for (const plaintext of ['', '{"summary":"支付成功","emoji":"🙂"}', 'x'.repeat(4096)]) {
      const ciphertext = encryptAeadAes256Gcm(plaintext, 'abcdefghijkl', 'transaction', JAVA_APIV3_KEY);
      expect(decryptAeadAes256Gcm({ ciphertext, nonce: 'abcdefghijkl', associatedData: 'transaction' }, JAVA_APIV3_KEY).toString()).toBe(plaintext);
    }
  });

  it('always checks the tag: any flipped bit fails', () => {
    const ciphertext = encryptAeadAes256Gcm('{"amount":1}', 'abcdefghijkl', '', JAVA_APIV3_KEY);
    const bytes = Buffer.from(ciphertext, 'base64');
    for (let i = 0; i < bytes.length; i++) {
      const tampered = Buffer.from(bytes);
      tampered[i] = (tampered[i] as number) ^ 0x01;
      expect(() => decryptAeadAes256Gcm({ ciphertext: tampered.toString('base64'), nonce: 'abcdefghijkl' }, JAVA_APIV3_KEY)).toThrow(
        DecryptionError,
      );
    }
  });

  it('DecryptionError for bad Base64, too-short input and wrong nonce lengths', () => {
    const nonce = 'abcdefghijkl';
    for (const ciphertext of ['', 'not base64!', 'YWJj', 'YWJjZA= =', 'AAAA']) {
      expect(() => decryptAeadAes256Gcm({ ciphertext, nonce }, JAVA_APIV3_KEY)).toThrow(DecryptionError);
    }
    const good = encryptAeadAes256Gcm('x', nonce, '', JAVA_APIV3_KEY);
    expect(() => decryptAeadAes256Gcm({ ciphertext: good, nonce: '0123456789abcdef' }, JAVA_APIV3_KEY)).toThrow(/12 bytes/);
    expect(() => decryptAeadAes256Gcm({ ciphertext: good, nonce: 'short' }, JAVA_APIV3_KEY)).toThrow(DecryptionError);
    // 12 UTF-16 units but 14 bytes: the nonce is taken as UTF-8 bytes.
    expect(() => decryptAeadAes256Gcm({ ciphertext: good, nonce: 'ééabcdefghij' }, JAVA_APIV3_KEY)).toThrow(DecryptionError);
  });

  it('agrees with the peer library in both directions', () => {
    const plaintext = '{"mchid":"1900000001","trade_state":"SUCCESS","payer":{"openid":"o"}}';
    const ours = encryptAeadAes256Gcm(plaintext, 'fedcba987654', 'transaction', JAVA_APIV3_KEY);
    expect(peer.Aes.AesGcm.decrypt(ours, JAVA_APIV3_KEY, 'fedcba987654', 'transaction')).toBe(plaintext);
    const theirs = peer.Aes.AesGcm.encrypt(plaintext, JAVA_APIV3_KEY, 'fedcba987654', '');
    expect(decryptAeadAes256Gcm({ ciphertext: theirs, nonce: 'fedcba987654', associatedData: '' }, JAVA_APIV3_KEY).toString()).toBe(plaintext);
  });
});
