import { KeyObject, X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { InvalidKeyError } from './errors';

/*
 * Parsing a PEM costs far more than using the key, and a warm Lambda container signs many requests
 * with the same handful of keys. So every PEM is parsed once into a KeyObject and cached by its text.
 * The caches are bounded so a caller feeding ever-new PEMs cannot grow memory without limit.
 */

const MAX_CACHED_KEYS = 64;

function remember<V>(cache: Map<string, V>, pem: string, value: V): V {
  if (cache.size >= MAX_CACHED_KEYS) {
    // Map iterates in insertion order: drop the oldest entry.
    const oldest = cache.keys().next();
    if (oldest.done !== true) cache.delete(oldest.value);
  }
  cache.set(pem, value);
  return value;
}

const privateKeys = new Map<string, KeyObject>();
const publicKeys = new Map<string, KeyObject>();
const serials = new Map<string, string>();
const derivedPublicKeys = new WeakMap<KeyObject, KeyObject>();

/** Merchant private key (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY` PEM), parsed once. */
export function privateKeyFrom(pemOrKey: string | KeyObject): KeyObject {
  if (pemOrKey instanceof KeyObject) {
    if (pemOrKey.type !== 'private') throw new InvalidKeyError(`expected a private key, got a ${pemOrKey.type} key`);
    return pemOrKey;
  }
  const cached = privateKeys.get(pemOrKey);
  if (cached !== undefined) return cached;
  let key: KeyObject;
  try {
    key = createPrivateKey(pemOrKey);
  } catch (cause) {
    // The PEM itself is secret: never echo it.
    throw new InvalidKeyError('private key PEM could not be parsed', { cause });
  }
  return remember(privateKeys, pemOrKey, key);
}

/**
 * WeChat Pay verification key from a `PUBLIC KEY` (public-key mode), `RSA PUBLIC KEY` or
 * `CERTIFICATE` (platform-certificate mode) PEM, parsed once.
 */
export function publicKeyFrom(pemOrKey: string | KeyObject): KeyObject {
  if (pemOrKey instanceof KeyObject) {
    if (pemOrKey.type === 'public') return pemOrKey;
    if (pemOrKey.type === 'private') {
      let derived = derivedPublicKeys.get(pemOrKey);
      if (derived === undefined) {
        derived = createPublicKey(pemOrKey);
        derivedPublicKeys.set(pemOrKey, derived);
      }
      return derived;
    }
    throw new InvalidKeyError('expected a public key, got a secret key');
  }
  const cached = publicKeys.get(pemOrKey);
  if (cached !== undefined) return cached;
  let key: KeyObject;
  try {
    key = pemOrKey.includes('-----BEGIN CERTIFICATE-----')
      ? new X509Certificate(pemOrKey).publicKey
      : createPublicKey(pemOrKey);
  } catch (cause) {
    throw new InvalidKeyError('public key or certificate PEM could not be parsed', { cause });
  }
  return remember(publicKeys, pemOrKey, key);
}

/**
 * Verification keys indexed by `Wechatpay-Serial` value: WeChat Pay public-key IDs (`PUB_KEY_ID_…`)
 * and/or platform-certificate serials, both at once during a migration. Lookups are exact and
 * case-sensitive, as in every official SDK.
 */
export function buildVerifierKeys(record: Readonly<Record<string, string>>): ReadonlyMap<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  for (const [serial, pem] of Object.entries(record)) {
    try {
      keys.set(serial, publicKeyFrom(pem));
    } catch (cause) {
      throw new InvalidKeyError(`verification key for serial ${JSON.stringify(serial)} could not be parsed`, { cause });
    }
  }
  return keys;
}

/** Serial number of an X.509 certificate PEM, upper-case hex (the form WeChat puts in headers). */
export function certificateSerial(pem: string): string {
  const cached = serials.get(pem);
  if (cached !== undefined) return cached;
  let serial: string;
  try {
    serial = new X509Certificate(pem).serialNumber.toUpperCase();
  } catch (cause) {
    throw new InvalidKeyError('certificate PEM could not be parsed', { cause });
  }
  return remember(serials, pem, serial);
}

const PUBLIC_KEY_ID_PREFIX = 'PUB_KEY_ID_';

export interface EncryptionKeyChoice {
  id: string;
  publicKey: KeyObject;
}

/** A certificate's validity window in epoch ms; undefined for a bare public key (which does not expire). */
function certificateValidity(pem: string): { from: number; to: number } | undefined {
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) return undefined;
  try {
    const cert = new X509Certificate(pem);
    return { from: Date.parse(cert.validFrom), to: Date.parse(cert.validTo) };
  } catch (cause) {
    throw new InvalidKeyError('certificate PEM could not be parsed', { cause });
  }
}

/**
 * The key to encrypt sensitive fields with, and to name in the `Wechatpay-Serial` request header, chosen on
 * purpose rather than by map order: the first WeChat Pay public key (`PUB_KEY_ID_…`, which does not expire and
 * replaces platform certificates), else the platform certificate valid at `now` that became valid last (during a
 * certificate rollover WeChat decrypts with the newer one). Expired or not-yet-valid certificates are never
 * chosen: a ciphertext WeChat cannot decrypt would burn a single-use contract code for nothing.
 */
export function preferredEncryptionKey(
  pems: Readonly<Record<string, string>>,
  now: number = Date.now(),
): EncryptionKeyChoice | undefined {
  let newest: { id: string; pem: string; from: number } | undefined;
  for (const [id, pem] of Object.entries(pems)) {
    if (id.startsWith(PUBLIC_KEY_ID_PREFIX)) return { id, publicKey: publicKeyFrom(pem) };
    const validity = certificateValidity(pem);
    // A bare key under a certificate-style id: usable, but a real certificate's validity wins over it.
    const from = validity?.from ?? Number.NEGATIVE_INFINITY;
    if (validity && (now < validity.from || now > validity.to)) continue;
    if (!newest || from > newest.from) newest = { id, pem, from };
  }
  return newest ? { id: newest.id, publicKey: publicKeyFrom(newest.pem) } : undefined;
}
