import { createCipheriv, createDecipheriv } from 'node:crypto';
import { decodeBase64Strict } from '../base64';
import { DecryptionError, InvalidApiV3KeyError } from '../errors';

/*
 * AEAD_AES_256_GCM as WeChat Pay uses it for notification resources and downloaded certificates:
 * key = the 32 ASCII bytes of the APIv3 key, nonce = 12 UTF-8 bytes (neither Base64 nor hex),
 * ciphertext = Base64(ciphertext ‖ 16-byte tag), associated data = UTF-8, possibly empty.
 */

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export interface AeadResource {
  ciphertext: string;
  nonce: string;
  /** May be '' (credit-repayment notifications) or absent. */
  associatedData?: string | undefined;
}

export type ApiV3Key = string | Uint8Array;

// The APIv3 key arrives as a string on every notification; converting and checking it once per key
// keeps the hot path to a Map lookup. Bounded: a container only ever sees a few keys.
const keyCache = new Map<string, Buffer>();
const MAX_CACHED_KEYS = 16;

function keyBytes(apiV3Key: ApiV3Key): Uint8Array {
  if (typeof apiV3Key !== 'string') {
    if (apiV3Key.byteLength !== KEY_BYTES) throw new InvalidApiV3KeyError(apiV3Key.byteLength);
    return apiV3Key;
  }
  const cached = keyCache.get(apiV3Key);
  if (cached !== undefined) return cached;
  const bytes = Buffer.from(apiV3Key, 'utf8');
  // Exactly 32 bytes: a 16-byte key would silently become AES-128 in some SDKs (Go's aes.NewCipher),
  // which is not what WeChat Pay specifies.
  if (bytes.length !== KEY_BYTES) throw new InvalidApiV3KeyError(bytes.length);
  if (keyCache.size >= MAX_CACHED_KEYS) keyCache.clear();
  keyCache.set(apiV3Key, bytes);
  return bytes;
}

// Associated data is one of a handful of labels ('transaction', 'certificate', '' …): convert each once.
const aadCache = new Map<string, Buffer>();
const MAX_CACHED_AAD = 32;
const MAX_CACHEABLE_AAD_LENGTH = 64;

function aadBytes(associatedData: string): Buffer {
  const cached = aadCache.get(associatedData);
  if (cached !== undefined) return cached;
  const bytes = Buffer.from(associatedData, 'utf8');
  if (associatedData.length <= MAX_CACHEABLE_AAD_LENGTH && aadCache.size < MAX_CACHED_AAD) aadCache.set(associatedData, bytes);
  return bytes;
}

const GCM_OPTIONS = { authTagLength: TAG_BYTES } as const;

function nonceBytes(nonce: string): Buffer {
  const iv = Buffer.from(nonce, 'utf8');
  if (iv.length !== NONCE_BYTES) throw new DecryptionError(`nonce must be ${NONCE_BYTES} bytes, got ${iv.length}`);
  return iv;
}

/** Decrypts and authenticates; the tag is always checked. Throws `DecryptionError` on any failure. */
export function decryptAeadAes256Gcm(resource: AeadResource, apiV3Key: ApiV3Key): Buffer {
  const key = keyBytes(apiV3Key);
  const iv = nonceBytes(resource.nonce);
  const sealed = decodeBase64Strict(resource.ciphertext);
  if (sealed === undefined) throw new DecryptionError('ciphertext is not valid Base64');
  if (sealed.length < TAG_BYTES) throw new DecryptionError('ciphertext is shorter than the 16-byte tag');

  const tagStart = sealed.length - TAG_BYTES;
  // No authTagLength option here: the tag handed to setAuthTag is always exactly the last 16 bytes, so a short
  // (truncated) tag can never be accepted, and the option costs an extra check on every notification.
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  // Tag and AAD must be set before any data goes through (Node checks the tag in final()).
  decipher.setAuthTag(sealed.subarray(tagStart));
  decipher.setAAD(aadBytes(resource.associatedData ?? ''));
  const plaintext = decipher.update(sealed.subarray(0, tagStart));
  try {
    decipher.final();
  } catch (cause) {
    throw new DecryptionError('authentication failed (wrong key, nonce, associated data or tampered ciphertext)', {
      cause,
    });
  }
  return plaintext;
}

/** The inverse, for tests, fixtures and the sandbox. Returns Base64(ciphertext ‖ tag). */
export function encryptAeadAes256Gcm(
  plaintext: string | Uint8Array,
  nonce: string,
  associatedData: string,
  apiV3Key: ApiV3Key,
): string {
  const cipher = createCipheriv('aes-256-gcm', keyBytes(apiV3Key), nonceBytes(nonce), GCM_OPTIONS);
  cipher.setAAD(aadBytes(associatedData));
  const data = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
  return Buffer.concat([cipher.update(data), cipher.final(), cipher.getAuthTag()]).toString('base64');
}
