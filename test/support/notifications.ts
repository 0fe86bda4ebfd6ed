import { createCipheriv, createSign, generateKeyPairSync, randomBytes } from 'node:crypto';

/**
 * Builds WeChat-style v3 notifications straight from the protocol reference with node:crypto, so tests can
 * send exact copies, tampered copies and forgeries to a notify handler. Independent of shared/wechatpay.
 */
export interface NotificationKeys {
  serial: string;
  privateKeyPem: string;
  apiV3Key: string;
}

export interface BuiltNotification {
  body: string;
  headers: Record<string, string>;
}

export function encryptResource(plaintext: string, apiV3Key: string, associatedData: string) {
  const nonce = randomBytes(6).toString('hex');
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(apiV3Key, 'utf8'), Buffer.from(nonce, 'utf8'));
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]).toString('base64');
  return { algorithm: 'AEAD_AES_256_GCM', ciphertext, associated_data: associatedData, nonce };
}

export function signHeaders(body: string, keys: Pick<NotificationKeys, 'serial' | 'privateKeyPem'>, timestamp = Math.floor(Date.now() / 1000)) {
  const nonce = randomBytes(16).toString('hex').toUpperCase();
  const signature = createSign('RSA-SHA256').update(`${timestamp}\n${nonce}\n${body}\n`).sign(keys.privateKeyPem, 'base64');
  return {
    'wechatpay-timestamp': String(timestamp),
    'wechatpay-nonce': nonce,
    'wechatpay-signature': signature,
    'wechatpay-serial': keys.serial,
    'wechatpay-signature-type': 'WECHATPAY2-SHA256-RSA2048',
    'content-type': 'application/json',
  };
}

export function buildNotification(
  keys: NotificationKeys,
  options: { eventType: string; resource: unknown; associatedData?: string; originalType?: string; id?: string; timestamp?: number },
): BuiltNotification {
  const envelope = {
    id: options.id ?? `EV-${randomBytes(8).toString('hex')}`,
    create_time: new Date().toISOString().replace(/\.\d+Z$/, '+00:00'),
    resource_type: 'encrypt-resource',
    event_type: options.eventType,
    summary: 'test',
    resource: {
      original_type: options.originalType ?? 'transaction',
      ...encryptResource(JSON.stringify(options.resource), keys.apiV3Key, options.associatedData ?? 'transaction'),
    },
  };
  const body = JSON.stringify(envelope);
  return { body, headers: signHeaders(body, keys, options.timestamp) };
}

export function strangerKey(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}
