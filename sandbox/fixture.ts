/**
 * In-memory test fixture: a complete SandboxConfig plus the merchant-side credentials that match it.
 */
import { generateKeyPairSync, randomBytes, randomInt } from 'node:crypto';
import type { SandboxConfig, SandboxMerchant } from './config';
import { createCa, issueMerchantCertificate, issueServerCertificate, type IssuedCa } from './tls';

/** The merchant secret shape of docs/contracts.md §1. */
export interface MerchantSecret {
  mchid: string;
  appid: string;
  merchantSerialNo: string;
  merchantPrivateKey: string;
  apiV3Key: string;
  apiV2Key?: string;
  /** apiclient_cert.pem, issued by the sandbox CA for this merchant's key (mutual TLS for `/secapi/…`). */
  merchantCertificate?: string;
  wechatpayPublicKeys: Record<string, string>;
}

export interface FixtureMerchant {
  kind: 'direct' | 'partner';
  mchid: string;
  /** First bound AppID. */
  appid: string;
  appids: string[];
  serialNo: string;
  privateKeyPem: string;
  publicKeyPem: string;
  apiV3Key: string;
  apiV2Key?: string;
  /** First registered plan id. */
  planId: string;
  planIds: string[];
  /** Same data in the secret format of docs/contracts.md §1. */
  secret: MerchantSecret;
}

export interface SandboxFixture {
  config: SandboxConfig;
  direct: FixtureMerchant;
  partner: FixtureMerchant;
  wechatpay: { publicKeyId: string; publicKeyPem: string; privateKeyPem: string };
  /** The local CA (and its key, to issue more certificates in tests). */
  ca: IssuedCa;
}

export interface FixtureOptions {
  directMchid?: string;
  partnerMchid?: string;
  directAppid?: string;
  partnerAppid?: string;
  directPlanId?: string;
  partnerPlanId?: string;
}

const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomKey32(): string {
  let out = '';
  for (let i = 0; i < 32; i += 1) out += KEY_ALPHABET[randomInt(KEY_ALPHABET.length)];
  return out;
}

function randomDigits(n: number): string {
  let out = '';
  for (let i = 0; i < n; i += 1) out += String(randomInt(10));
  return out;
}

function rsaPair(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

function merchant(
  kind: 'direct' | 'partner',
  mchid: string,
  appid: string,
  planId: string,
  wechatpay: { publicKeyId: string; publicKeyPem: string },
): FixtureMerchant {
  const keys = rsaPair();
  const serialNo = randomBytes(20).toString('hex').toUpperCase();
  const apiV3Key = randomKey32();
  const apiV2Key = kind === 'direct' ? randomKey32() : undefined;
  const secret: MerchantSecret = {
    mchid,
    appid,
    merchantSerialNo: serialNo,
    merchantPrivateKey: keys.privateKeyPem,
    apiV3Key,
    wechatpayPublicKeys: { [wechatpay.publicKeyId]: wechatpay.publicKeyPem },
  };
  if (apiV2Key) secret.apiV2Key = apiV2Key;
  const out: FixtureMerchant = {
    kind,
    mchid,
    appid,
    appids: [appid],
    serialNo,
    privateKeyPem: keys.privateKeyPem,
    publicKeyPem: keys.publicKeyPem,
    apiV3Key,
    planId,
    planIds: [planId],
    secret,
  };
  if (apiV2Key) out.apiV2Key = apiV2Key;
  return out;
}

function toConfigMerchant(m: FixtureMerchant): SandboxMerchant {
  const out: SandboxMerchant = {
    mchid: m.mchid,
    kind: m.kind,
    appids: [...m.appids],
    serialNo: m.serialNo,
    publicKeyPem: m.publicKeyPem,
    apiV3Key: m.apiV3Key,
    planIds: [...m.planIds],
  };
  if (m.apiV2Key) out.apiV2Key = m.apiV2Key;
  return out;
}

/**
 * Generates fresh RSA-2048 keys (sandbox + two merchants), 32-character APIv3/APIv2 keys,
 * 40-hex serials and a `PUB_KEY_ID_` + 28-digit key id. Nothing touches the disk.
 */
export function generateSandboxFixture(options: FixtureOptions = {}): SandboxFixture {
  const wxKeys = rsaPair();
  const wechatpay = {
    publicKeyId: `PUB_KEY_ID_${randomDigits(28)}`,
    publicKeyPem: wxKeys.publicKeyPem,
    privateKeyPem: wxKeys.privateKeyPem,
  };
  const direct = merchant(
    'direct',
    options.directMchid ?? `19${randomDigits(8)}`,
    options.directAppid ?? `wx${randomBytes(8).toString('hex')}`,
    options.directPlanId ?? String(10000 + randomInt(90000)),
    wechatpay,
  );
  const partner = merchant(
    'partner',
    options.partnerMchid ?? `16${randomDigits(8)}`,
    options.partnerAppid ?? `wx${randomBytes(8).toString('hex')}`,
    options.partnerPlanId ?? `PLAN_REPAY_${randomDigits(6)}`,
    wechatpay,
  );
  const ca = createCa();
  for (const m of [direct, partner]) m.secret.merchantCertificate = issueMerchantCertificate(ca, m.mchid, m.serialNo, m.publicKeyPem);
  const config: SandboxConfig = {
    wechatpayKey: { id: wechatpay.publicKeyId, privateKeyPem: wxKeys.privateKeyPem, publicKeyPem: wxKeys.publicKeyPem },
    merchants: [toConfigMerchant(direct), toConfigMerchant(partner)],
    tls: { caCertPem: ca.caCertPem, ...issueServerCertificate(ca) },
  };
  return { config, direct, partner, wechatpay, ca };
}
