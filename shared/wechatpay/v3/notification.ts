import type { KeyObject } from 'node:crypto';
import { MalformedNotificationError } from '../errors';
import { type ApiV3Key, decryptAeadAes256Gcm } from './aead';
import type { HeaderSource } from './headers';
import { type VerifiedSignature, verifyWechatPaySignature } from './verifier';

export const NOTIFICATION_ALGORITHM = 'AEAD_AES_256_GCM';

export interface OpenNotificationInput {
  headers: HeaderSource;
  /** The raw request body exactly as received (Base64-decode API Gateway bodies first). */
  body: string | Uint8Array;
  keys: ReadonlyMap<string, KeyObject>;
  apiV3Key: ApiV3Key;
  /** Clock in milliseconds since the epoch; defaults to `Date.now`. */
  now?: (() => number) | undefined;
  toleranceSeconds?: number | undefined;
}

export interface OpenedNotification {
  id: string;
  /** As sent; usually RFC 3339, but some products use other formats, so it is not parsed here. */
  createTime: string;
  eventType: string;
  resourceType: string;
  summary: string;
  /** Not validated: credit-repayment deductions say 'payscore', for instance. */
  originalType: string;
  associatedData: string;
  /** The decrypted resource, JSON-parsed. Validate it against the event type before use. */
  resource: unknown;
  /** Which key verified the message, and its Wechatpay-Timestamp. */
  signature: VerifiedSignature;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function requiredString(object: Record<string, unknown>, field: string, path: string): string {
  const value = object[field];
  if (typeof value !== 'string' || value === '') {
    throw new MalformedNotificationError(`notification field ${path} is missing or not a string`);
  }
  return value;
}

// Informational fields are optional: a missing summary must not make us drop a verified payment.
function optionalString(object: Record<string, unknown>, field: string, path: string): string {
  const value = object[field];
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new MalformedNotificationError(`notification field ${path} is not a string`);
  return value;
}

/**
 * Verifies, then decrypts an APIv3 notification. Verification runs on the raw body before it is
 * even parsed, so nothing unauthenticated is interpreted. Throws `SignatureVerificationError`
 * subclasses (answer 401), `MalformedNotificationError`, `DecryptionError` or `InvalidApiV3KeyError`.
 */
export function openNotification(input: OpenNotificationInput): OpenedNotification {
  const signature = verifyWechatPaySignature({
    headers: input.headers,
    body: input.body,
    keys: input.keys,
    now: input.now,
    toleranceSeconds: input.toleranceSeconds,
  });

  const text = typeof input.body === 'string' ? input.body : Buffer.from(input.body.buffer, input.body.byteOffset, input.body.byteLength).toString('utf8');
  let envelope: unknown;
  try {
    envelope = JSON.parse(text);
  } catch (cause) {
    throw new MalformedNotificationError('notification body is not JSON', { cause });
  }
  if (!isRecord(envelope)) throw new MalformedNotificationError('notification body is not a JSON object');
  const resource = envelope['resource'];
  if (!isRecord(resource)) throw new MalformedNotificationError('notification field resource is missing');

  const algorithm = requiredString(resource, 'algorithm', 'resource.algorithm');
  if (algorithm !== NOTIFICATION_ALGORITHM) {
    throw new MalformedNotificationError(`unsupported resource.algorithm ${JSON.stringify(algorithm)}`);
  }
  const associatedData = optionalString(resource, 'associated_data', 'resource.associated_data');
  const id = requiredString(envelope, 'id', 'id');
  const createTime = optionalString(envelope, 'create_time', 'create_time');
  const eventType = requiredString(envelope, 'event_type', 'event_type');
  const resourceType = optionalString(envelope, 'resource_type', 'resource_type');
  const summary = optionalString(envelope, 'summary', 'summary');
  const originalType = optionalString(resource, 'original_type', 'resource.original_type');

  const plaintext = decryptAeadAes256Gcm(
    {
      ciphertext: requiredString(resource, 'ciphertext', 'resource.ciphertext'),
      nonce: requiredString(resource, 'nonce', 'resource.nonce'),
      associatedData,
    },
    input.apiV3Key,
  );
  let decrypted: unknown;
  try {
    decrypted = JSON.parse(plaintext.toString('utf8'));
  } catch (cause) {
    throw new MalformedNotificationError('decrypted resource is not JSON', { cause });
  }
  // One literal: `{ ...opened, resource, signature }` cost ~2 µs per notification, about 5 % of the whole open (bench/RESULTS.md).
  return { id, createTime, eventType, resourceType, summary, originalType, associatedData, resource: decrypted, signature };
}
