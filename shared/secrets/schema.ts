import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { inspect } from 'node:util';
import * as v from 'valibot';
import { SecretsError } from './errors';
import type { MerchantSecret } from './types';

// Every message below is ours and value-free: valibot's default messages quote the received value, which
// for a secret would be the secret. Field names (and verification-key ids, which are public) are fine.

// PKCS#8 ("PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY") armour, written with -{5} so no key header sits in source.
const PRIVATE_KEY_PEM = /^-{5}BEGIN (?:RSA )?PRIVATE KEY-{5}\r?\n[\s\S]+?\r?\n-{5}END (?:RSA )?PRIVATE KEY-{5}\s*$/;
const PUBLIC_PEM = /^-----BEGIN (PUBLIC KEY|RSA PUBLIC KEY|CERTIFICATE)-----\r?\n[\s\S]+?\r?\n-----END \1-----\s*$/;

function isRsaPrivateKey(pem: string): boolean {
  if (!PRIVATE_KEY_PEM.test(pem.trim() + '\n')) return false;
  try {
    return createPrivateKey(pem).asymmetricKeyType === 'rsa';
  } catch {
    return false;
  }
}

function isPublicKeyOrCertificate(pem: string): boolean {
  if (!PUBLIC_PEM.test(pem.trim() + '\n')) return false;
  try {
    return createPublicKey(pem).asymmetricKeyType === 'rsa';
  } catch {
    return false;
  }
}

const CERTIFICATE_PEM = /^-{5}BEGIN CERTIFICATE-{5}\r?\n[\s\S]+?\r?\n-{5}END CERTIFICATE-{5}\s*$/;

function isCertificate(pem: string): boolean {
  if (!CERTIFICATE_PEM.test(pem.trim() + '\n')) return false;
  try {
    return new X509Certificate(pem).publicKey.asymmetricKeyType === 'rsa';
  } catch {
    return false;
  }
}

/** The API certificate must be the one for this private key: WeChat's TLS handshake would refuse any other. */
function certificateMatchesKey(secret: { merchantPrivateKey: string; merchantCertificate?: string | undefined }): boolean {
  if (secret.merchantCertificate === undefined) return true;
  try {
    const fromCert = new X509Certificate(secret.merchantCertificate).publicKey.export({ type: 'spki', format: 'der' });
    const fromKey = createPublicKey(createPrivateKey(secret.merchantPrivateKey)).export({ type: 'spki', format: 'der' });
    return fromCert.equals(fromKey);
  } catch {
    return false;
  }
}

const text = (what: string) => v.pipe(v.string(`must be a string (${what})`), v.nonEmpty(`must not be empty (${what})`));

export const merchantSecretSchema = v.object(
  {
    mchid: v.pipe(v.string('must be a string'), v.regex(/^\d{1,32}$/, 'must be the merchant id (digits only)')),
    appid: text('the app id'),
    merchantSerialNo: v.pipe(
      v.string('must be a string'),
      v.regex(/^[0-9A-Za-z]{1,64}$/, 'must be the merchant certificate serial number (hex)'),
    ),
    merchantPrivateKey: v.pipe(
      v.string('must be a string (PEM)'),
      v.check(isRsaPrivateKey, 'must be a PEM-encoded RSA private key (PKCS#8 or PKCS#1)'),
    ),
    apiV3Key: v.pipe(v.string('must be a string'), v.bytes(32, 'must be exactly 32 bytes')),
    apiV2Key: v.optional(text('the APIv2 key')),
    /** apiclient_cert.pem: the client certificate of the APIv2 calls that need mutual TLS (refunds). */
    merchantCertificate: v.optional(
      v.pipe(v.string('must be a string (PEM)'), v.check(isCertificate, 'must be a PEM-encoded RSA certificate (apiclient_cert.pem)')),
    ),
    wechatpayPublicKeys: v.pipe(
      v.record(
        v.pipe(v.string(), v.nonEmpty('key ids must not be empty')),
        v.pipe(
          v.string('must be a string (PEM)'),
          v.check(isPublicKeyOrCertificate, 'must be a PEM RSA public key or certificate'),
        ),
        'must be an object mapping PUB_KEY_ID_… / certificate serial to a PEM',
      ),
      v.check((keys) => !Array.isArray(keys), 'must be an object mapping PUB_KEY_ID_… / certificate serial to a PEM'),
      v.minEntries(1, 'must hold at least one WeChat Pay public key or certificate'),
    ),
    fingerprintKeys: v.pipe(
      v.record(
        v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,32}$/, 'fingerprint key ids must be 1-32 characters of A-Z a-z 0-9 _ -')),
        v.pipe(v.string('must be a string'), v.minBytes(32, 'must be at least 32 bytes')),
        'must be an object mapping a key id to an HMAC key of at least 32 bytes',
      ),
      v.check((keys) => !Array.isArray(keys), 'must be an object mapping a key id to an HMAC key of at least 32 bytes'),
      v.minEntries(1, 'must hold at least one fingerprint key (the first one fingerprints new requests)'),
    ),
  },
  'must be a JSON object',
);

/** The object schema plus the check that the certificate belongs to the private key. */
const merchantSecretWithCertificate = v.pipe(
  merchantSecretSchema,
  v.forward(
    v.check(
      (secret: v.InferOutput<typeof merchantSecretSchema>) => certificateMatchesKey(secret),
      'must be the certificate of merchantPrivateKey (apiclient_cert.pem of the same key pair)',
    ),
    ['merchantCertificate'],
  ),
);

/** Replaces the secret's values by `[redacted]` so it can be logged: ids and key ids stay visible. */
export function redact(secret: MerchantSecret): Record<string, unknown> {
  return {
    mchid: secret.mchid,
    appid: secret.appid,
    merchantSerialNo: secret.merchantSerialNo,
    merchantPrivateKey: '[redacted]',
    apiV3Key: '[redacted]',
    ...(secret.apiV2Key === undefined ? {} : { apiV2Key: '[redacted]' }),
    ...(secret.merchantCertificate === undefined ? {} : { merchantCertificate: '[present]' }),
    wechatpayPublicKeys: Object.keys(secret.wechatpayPublicKeys),
    fingerprintKeys: Object.keys(secret.fingerprintKeys),
  };
}

/**
 * Validates an already-parsed value as a MerchantSecret. The result is frozen; `JSON.stringify`,
 * `console.log` and `util.inspect` of it print the redacted form, so a stray log line cannot leak it.
 */
export function validateMerchantSecret(value: unknown, secretId: string): MerchantSecret {
  if (Array.isArray(value)) value = null; // valibot's object() would take an array for an object
  const result = v.safeParse(merchantSecretWithCertificate, value);
  if (!result.success) {
    const problems = result.issues.map((issue) => {
      const field = v.getDotPath(issue) ?? '(root)';
      const missing = issue.input === undefined && field !== '(root)';
      return { field, problem: missing ? 'is missing' : issue.message };
    });
    const summary = problems.map((p) => `"${p.field}" ${p.problem}`).join('; ');
    throw new SecretsError('invalid_secret', `secret "${secretId}" is invalid: ${summary}`, { secretId, problems });
  }
  const out = result.output;
  const secret: MerchantSecret = {
    mchid: out.mchid,
    appid: out.appid,
    merchantSerialNo: out.merchantSerialNo,
    merchantPrivateKey: out.merchantPrivateKey,
    apiV3Key: out.apiV3Key,
    ...(out.apiV2Key === undefined ? {} : { apiV2Key: out.apiV2Key }),
    ...(out.merchantCertificate === undefined ? {} : { merchantCertificate: out.merchantCertificate }),
    wechatpayPublicKeys: Object.freeze({ ...out.wechatpayPublicKeys }),
    fingerprintKeys: Object.freeze({ ...out.fingerprintKeys }),
  };
  Object.defineProperties(secret, {
    toJSON: { value: () => redact(secret), enumerable: false },
    [inspect.custom]: { value: () => redact(secret), enumerable: false },
  });
  return Object.freeze(secret);
}

/** Parses a secret's JSON text; errors name the secret and the field, never a value. */
export function parseMerchantSecret(json: string, secretId: string): MerchantSecret {
  return validateMerchantSecret(parseJson(json, `secret "${secretId}"`, secretId), secretId);
}

/**
 * JSON.parse whose error keeps only the position: V8's own message quotes the input around the error,
 * which here would be part of a secret.
 */
export function parseJson(json: string, what: string, secretId?: string): unknown {
  try {
    return JSON.parse(json);
  } catch (error) {
    const position = /position (\d+)/.exec(error instanceof Error ? error.message : '')?.[1];
    const where = position === undefined ? '' : ` (syntax error at position ${position})`;
    throw new SecretsError('invalid_json', `${what} is not valid JSON${where}`, secretId === undefined ? {} : { secretId });
  }
}
