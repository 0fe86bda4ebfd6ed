import { type KeyObject, constants, privateDecrypt, publicEncrypt } from 'node:crypto';
import { decodeBase64Strict } from '../base64';
import { DecryptionError, InvalidKeyError, PlaintextTooLongError } from '../errors';
import { privateKeyFrom, publicKeyFrom } from '../keys';

/*
 * Sensitive request fields (names, ID numbers) are encrypted with RSAES-OAEP, SHA-1 + MGF1-SHA1 and
 * an empty label, under the WeChat Pay public key (or platform certificate) that the request then
 * names in `Wechatpay-Serial`.
 */

// OAEP overhead is 2·hLen + 2 bytes; SHA-1 gives hLen = 20, so a 2048-bit key takes 256 − 42 = 214.
const OAEP_SHA1_OVERHEAD = 2 * 20 + 2;

const plaintextLimits = new WeakMap<KeyObject, number>();

function maxPlaintextBytes(key: KeyObject): number {
  let limit = plaintextLimits.get(key);
  if (limit === undefined) {
    const modulusBits = key.asymmetricKeyDetails?.modulusLength;
    if (modulusBits === undefined) throw new InvalidKeyError('RSA-OAEP needs an RSA key');
    limit = Math.floor(modulusBits / 8) - OAEP_SHA1_OVERHEAD;
    plaintextLimits.set(key, limit);
  }
  return limit;
}

export interface EncryptionKey {
  /** `PUB_KEY_ID_…` or platform-certificate serial: goes into the `Wechatpay-Serial` header. */
  id: string;
  publicKey: KeyObject | string;
}

export interface SensitiveCiphertext {
  ciphertext: string;
  /** The key id to send as `Wechatpay-Serial`. */
  serial: string;
}

export function encryptSensitive(plaintext: string, key: EncryptionKey): SensitiveCiphertext {
  const publicKey = publicKeyFrom(key.publicKey);
  const data = Buffer.from(plaintext, 'utf8');
  const limit = maxPlaintextBytes(publicKey);
  if (data.length > limit) throw new PlaintextTooLongError(data.length, limit);
  const ciphertext = publicEncrypt(
    { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
    data,
  ).toString('base64');
  return { ciphertext, serial: key.id };
}

/** For fields WeChat encrypts to the merchant key, and for tests. Throws `DecryptionError`. */
export function decryptSensitive(ciphertext: string, privateKey: KeyObject | string): string {
  const key = privateKeyFrom(privateKey);
  const data = decodeBase64Strict(ciphertext);
  if (data === undefined) throw new DecryptionError('ciphertext is not valid Base64');
  try {
    return privateDecrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, data).toString('utf8');
  } catch (cause) {
    throw new DecryptionError('RSA-OAEP decryption failed', { cause });
  }
}
