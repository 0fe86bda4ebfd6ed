/**
 * Sandbox configuration (docs/contracts.md §4): the sandbox's own WeChat Pay key pair
 * (public-key mode, `PUB_KEY_ID_…`) and the merchants it knows.
 */
import { readFile } from 'node:fs/promises';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import type { SandboxTls } from './tls';

export interface SandboxWechatpayKey {
  /** WeChat Pay public-key id, `PUB_KEY_ID_` + digits; sent as `Wechatpay-Serial`. */
  id: string;
  /** PKCS#8 PEM; signs every answer and notification, decrypts `real_identity`. */
  privateKeyPem: string;
  /** SPKI PEM; what merchants verify with and encrypt sensitive fields to. */
  publicKeyPem: string;
}

export type MerchantKind = 'direct' | 'partner';

export interface SandboxMerchant {
  mchid: string;
  /** `direct` (普通商户: H5 order, contractorder) or `partner` (服务商: credit repayment). */
  kind: MerchantKind;
  /** AppIDs bound to this mchid. */
  appids: string[];
  /** Serial of the merchant API certificate (`serial_no` in Authorization). */
  serialNo: string;
  /** Public key of the merchant API certificate (SPKI PEM, or a certificate PEM). */
  publicKeyPem: string;
  /** APIv3 key, 32 ASCII characters: encrypts this merchant's v3 notifications. */
  apiV3Key: string;
  /** APIv2 key, 32 ASCII characters (direct merchants using /pay/contractorder). */
  apiV2Key?: string;
  /** Registered plan (template) ids: contractorder `plan_id` or credit-repayment `plan_id`. */
  planIds?: string[];
}

export interface SandboxConfig {
  wechatpayKey: SandboxWechatpayKey;
  merchants: SandboxMerchant[];
  /**
   * The local PKI (sandbox/tls.ts): with it the sandbox also listens on HTTPS and serves `/secapi/…` there, to
   * clients presenting a merchant API certificate issued by this CA. Without it there is no mutual-TLS listener.
   */
  tls?: SandboxTls;
}

export class SandboxConfigError extends Error {
  override name = 'SandboxConfigError';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function requireString(obj: Record<string, unknown>, key: string, where: string): string {
  const value = obj[key];
  if (typeof value !== 'string' || value === '') {
    throw new SandboxConfigError(`${where}.${key} must be a non-empty string`);
  }
  return value;
}

function optionalStringArray(obj: Record<string, unknown>, key: string, where: string): string[] | undefined {
  const value = obj[key];
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) {
    throw new SandboxConfigError(`${where}.${key} must be an array of non-empty strings`);
  }
  return value as string[];
}

function requireKey32(obj: Record<string, unknown>, key: string, where: string): string {
  const value = requireString(obj, key, where);
  if (Buffer.byteLength(value, 'utf8') !== 32) {
    throw new SandboxConfigError(`${where}.${key} must be exactly 32 bytes`);
  }
  return value;
}

/** Validates an already-parsed JSON value and returns a typed, checked SandboxConfig. */
export function parseSandboxConfig(json: unknown): SandboxConfig {
  if (!isRecord(json)) throw new SandboxConfigError('sandbox config must be a JSON object');
  const keyRaw = json['wechatpayKey'];
  if (!isRecord(keyRaw)) throw new SandboxConfigError('wechatpayKey must be an object');
  const id = requireString(keyRaw, 'id', 'wechatpayKey');
  if (!/^PUB_KEY_ID_\d+$/.test(id)) throw new SandboxConfigError('wechatpayKey.id must look like PUB_KEY_ID_<digits>');
  const privateKeyPem = requireString(keyRaw, 'privateKeyPem', 'wechatpayKey');
  let publicKeyPem = typeof keyRaw['publicKeyPem'] === 'string' ? keyRaw['publicKeyPem'] : '';
  try {
    const priv = createPrivateKey(privateKeyPem);
    if (priv.asymmetricKeyType !== 'rsa') throw new SandboxConfigError('wechatpayKey must be an RSA key');
    if (publicKeyPem === '') {
      publicKeyPem = createPublicKey(priv).export({ type: 'spki', format: 'pem' }).toString();
    }
    createPublicKey(publicKeyPem);
  } catch (err) {
    if (err instanceof SandboxConfigError) throw err;
    throw new SandboxConfigError(`wechatpayKey: unreadable key (${(err as Error).message})`);
  }

  const merchantsRaw = json['merchants'];
  if (!Array.isArray(merchantsRaw) || merchantsRaw.length === 0) {
    throw new SandboxConfigError('merchants must be a non-empty array');
  }
  const seen = new Set<string>();
  const merchants = merchantsRaw.map((m, i): SandboxMerchant => {
    const where = `merchants[${i}]`;
    if (!isRecord(m)) throw new SandboxConfigError(`${where} must be an object`);
    const mchid = requireString(m, 'mchid', where);
    if (seen.has(mchid)) throw new SandboxConfigError(`${where}.mchid ${mchid} is duplicated`);
    seen.add(mchid);
    const kind = m['kind'];
    if (kind !== 'direct' && kind !== 'partner') throw new SandboxConfigError(`${where}.kind must be "direct" or "partner"`);
    const appids = optionalStringArray(m, 'appids', where) ?? [];
    if (appids.length === 0) throw new SandboxConfigError(`${where}.appids must list at least one AppID`);
    const merchantPublicKeyPem = requireString(m, 'publicKeyPem', where);
    try {
      createPublicKey(merchantPublicKeyPem);
    } catch (err) {
      throw new SandboxConfigError(`${where}.publicKeyPem unreadable (${(err as Error).message})`);
    }
    const merchant: SandboxMerchant = {
      mchid,
      kind,
      appids,
      serialNo: requireString(m, 'serialNo', where),
      publicKeyPem: merchantPublicKeyPem,
      apiV3Key: requireKey32(m, 'apiV3Key', where),
    };
    if (m['apiV2Key'] !== undefined) merchant.apiV2Key = requireKey32(m, 'apiV2Key', where);
    const planIds = optionalStringArray(m, 'planIds', where);
    if (planIds) merchant.planIds = planIds;
    return merchant;
  });

  const tls = parseTls(json['tls']);
  return { wechatpayKey: { id, privateKeyPem, publicKeyPem }, merchants, ...(tls ? { tls } : {}) };
}

function parseTls(raw: unknown): SandboxTls | undefined {
  if (raw === undefined) return undefined;
  if (!isRecord(raw)) throw new SandboxConfigError('tls must be an object');
  const tls = {
    caCertPem: requireString(raw, 'caCertPem', 'tls'),
    serverCertPem: requireString(raw, 'serverCertPem', 'tls'),
    serverKeyPem: requireString(raw, 'serverKeyPem', 'tls'),
  };
  try {
    const ca = new X509Certificate(tls.caCertPem);
    const server = new X509Certificate(tls.serverCertPem);
    if (!server.verify(ca.publicKey)) throw new SandboxConfigError('tls.serverCertPem is not issued by tls.caCertPem');
    if (!server.checkPrivateKey(createPrivateKey(tls.serverKeyPem))) throw new SandboxConfigError('tls.serverKeyPem does not match tls.serverCertPem');
  } catch (err) {
    if (err instanceof SandboxConfigError) throw err;
    throw new SandboxConfigError(`tls: unreadable certificate or key (${(err as Error).message})`);
  }
  return tls;
}

/** Reads and validates a SandboxConfig JSON file (e.g. `.local/sandbox.json`). */
export async function loadSandboxConfig(path: string): Promise<SandboxConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new SandboxConfigError(`cannot read sandbox config ${path}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SandboxConfigError(`sandbox config ${path} is not valid JSON: ${(err as Error).message}`);
  }
  return parseSandboxConfig(json);
}

export { generateSandboxFixture } from './fixture';
export type { SandboxFixture, FixtureMerchant, MerchantSecret, FixtureOptions } from './fixture';
