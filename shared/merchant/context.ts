import { createHmac, type KeyObject } from 'node:crypto';
import {
  WechatPayV3Client,
  buildVerifierKeys,
  preferredEncryptionKey,
  privateKeyFrom,
  type EncryptionKeyChoice,
} from '../wechatpay';
import { ConfigError } from '../config/env';
import type { MerchantSecret } from '../secrets/types';
import type { Fingerprint } from '../store/claims';
import { recordWechatAttempt } from '../runtime/metrics';

/** Which merchant identity a flow acts as: the direct merchant (H5, contract orders) or the service provider. */
export type MerchantRole = 'direct' | 'partner';

/** Everything a use case needs to talk to WeChat as one merchant, built once per secret version. */
export interface MerchantContext {
  readonly role: MerchantRole;
  readonly mchid: string;
  readonly appid: string;
  readonly v3: WechatPayV3Client;
  /** How this merchant's WeChat clients connect; the APIv2 client is built by the one product that needs it. */
  readonly clientSettings: ClientSettings;
  readonly verifierKeys: ReadonlyMap<string, KeyObject>;
  readonly apiV3Key: string;
  readonly apiV2Key?: string;
  /**
   * The WeChat Pay public key that encrypts sensitive fields at `now`, and the id sent as `Wechatpay-Serial`.
   * Throws ConfigError when only expired certificates are left, before anything is sent.
   */
  encryptionKey(now?: number): EncryptionKeyChoice;
  /** apiclient_cert.pem + apiclient_key.pem, when the secret has the certificate: mutual TLS for `/secapi/…`. */
  readonly clientCertificate?: { cert: string; key: string };
  /** Keyed fingerprint of request bytes: stable per merchant across key rotations, useless to anyone without the key. */
  fingerprint(data: string | Buffer): Fingerprint;
}

export interface ClientSettings {
  baseUrls: string[];
  timeoutMs: number;
  fetch?: typeof fetch;
}

/** What every WeChat Pay client of a merchant shares: where to connect, how long to wait, where attempts are reported. */
export function connection(settings: ClientSettings) {
  return {
    baseUrls: settings.baseUrls,
    timeoutMs: settings.timeoutMs,
    onAttempt: recordWechatAttempt,
    ...(settings.fetch ? { fetch: settings.fetch } : {}),
  };
}

/**
 * `<key id>:<HMAC-SHA256, base64url>`. The key id travels with the stored value, so a record made under a key
 * that was rotated out of first place still recognises its own request while that key is kept in the secret.
 */
export function fingerprinter(keys: Readonly<Record<string, string>>): (data: string | Buffer) => Fingerprint {
  const entries = Object.entries(keys);
  if (entries.length === 0) throw new Error('no fingerprint key');
  const hmac = (key: string, data: string | Buffer) => createHmac('sha256', key).update(data).digest('base64url');
  const [currentId, currentKey] = entries[0]!;
  return (data) => {
    const value = `${currentId}:${hmac(currentKey, data)}`;
    return {
      value,
      matches(stored) {
        if (stored === undefined || stored === value) return stored === value;
        const separator = stored.indexOf(':');
        const key = separator > 0 ? keys[stored.slice(0, separator)] : undefined;
        return key !== undefined && stored === `${stored.slice(0, separator)}:${hmac(key, data)}`;
      },
    };
  };
}

export function buildMerchantContext(role: MerchantRole, secret: MerchantSecret, settings: ClientSettings): MerchantContext {
  const verifierKeys = buildVerifierKeys({ ...secret.wechatpayPublicKeys });
  const pems = secret.wechatpayPublicKeys;
  // Chosen per call: a Lambda container outlives a certificate's last valid minute.
  const encryptionKey = (now: number = Date.now()) => {
    const chosen = preferredEncryptionKey(pems, now);
    if (!chosen) {
      throw new ConfigError(
        `merchant ${secret.mchid} has no WeChat Pay public key and no platform certificate valid now; add the current one to its secret`,
      );
    }
    return chosen;
  };
  const privateKey = privateKeyFrom(secret.merchantPrivateKey);
  const fingerprint = fingerprinter(secret.fingerprintKeys);

  const v3 = new WechatPayV3Client({
    ...connection(settings),
    mchid: secret.mchid,
    serialNo: secret.merchantSerialNo,
    privateKey,
    verifierKeys,
    wechatpaySerial: preferredEncryptionKey(pems)?.id ?? Object.keys(pems)[0]!,
  });

  return {
    role,
    mchid: secret.mchid,
    appid: secret.appid,
    v3,
    clientSettings: settings,
    verifierKeys,
    apiV3Key: secret.apiV3Key,
    ...(secret.apiV2Key ? { apiV2Key: secret.apiV2Key } : {}),
    ...(secret.merchantCertificate ? { clientCertificate: { cert: secret.merchantCertificate, key: secret.merchantPrivateKey } } : {}),
    encryptionKey,
    fingerprint,
  };
}
