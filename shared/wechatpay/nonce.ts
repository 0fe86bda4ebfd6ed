import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const NONCE_LENGTH = 32;
// 248 = 4 × 62: bytes at or above it are discarded so every character is equally likely
// (a plain `byte % 62` would favour the first 8 characters).
const UNBIASED_LIMIT = 248;

/** 32 characters of [0-9A-Za-z] from the CSPRNG, as the official Go and Java SDKs send. */
export function createNonce(): string {
  let nonce = '';
  while (nonce.length < NONCE_LENGTH) {
    // 40 bytes almost always suffice (each byte is kept with probability 248/256).
    for (const byte of randomBytes(40)) {
      if (byte < UNBIASED_LIMIT) {
        nonce += ALPHABET[byte % 62];
        if (nonce.length === NONCE_LENGTH) break;
      }
    }
  }
  return nonce;
}
