import { createPublicKey, generateKeyPair, randomBytes, randomInt } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { validateMerchantSecret } from '../../shared/secrets/schema';
import { createCa, issueMerchantCertificate, issueServerCertificate } from '../../sandbox/tls';
import type { MerchantSecret } from '../../shared/secrets/types';

const generateKeyPairAsync = promisify(generateKeyPair);

export const DIRECT_MERCHANT_SECRET_ID = 'wechatpay/direct-merchant';
export const SERVICE_PROVIDER_SECRET_ID = 'wechatpay/service-provider';

export const LOCAL_JWT_ISSUER = 'https://auth.local.test/';
export const LOCAL_JWT_AUDIENCE = 'wechatpay-api';

/** The fixed, non-secret identities of the local merchants. */
export const LOCAL_MERCHANTS = {
  direct: { mchid: '1900000001', appid: 'wx8888888888888888', planIds: ['12535'] },
  partner: { mchid: '1900000100', appid: 'wx9999999999999999', planIds: ['PLAN_REPAY_001'] },
} as const;

/** `.local/secrets.json`: docs/contracts.md §1, keyed by secret id. */
export type LocalSecrets = Record<string, MerchantSecret>;

/** docs/contracts.md §4 (`SandboxConfig` of sandbox/config.ts), declared structurally: the sandbox is its own part. */
export interface LocalSandboxMerchant {
  mchid: string;
  kind: 'direct' | 'partner';
  appids: string[];
  serialNo: string;
  publicKeyPem: string;
  apiV3Key: string;
  apiV2Key?: string;
  planIds: string[];
}
export interface LocalSandboxConfig {
  wechatpayKey: { id: string; privateKeyPem: string; publicKeyPem: string };
  merchants: LocalSandboxMerchant[];
  /** The sandbox's local CA and HTTPS certificate (mutual TLS for `/secapi/…`, sandbox/tls.ts). */
  tls?: { caCertPem: string; serverCertPem: string; serverKeyPem: string };
}

/** `.local/jwt.json` (docs/contracts.md §3). */
export interface LocalJwtConfig {
  issuer: string;
  audience: string;
  privateKeyPem: string;
  publicKeyPem: string;
  kid: string;
  alg: 'ES256';
}

export interface LocalConfig {
  secrets: LocalSecrets;
  sandbox: LocalSandboxConfig;
  jwt: LocalJwtConfig;
}

export interface EnsuredLocalConfig extends LocalConfig {
  /** Absolute paths of the files. */
  dir: string;
  files: { secrets: string; sandbox: string; jwt: string };
  /** Which files this call wrote (empty when everything was reused). */
  created: string[];
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomText(length: number, alphabet = ALPHANUMERIC): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

/** 40 hex digits, upper case, like a WeChat Pay merchant certificate serial. */
export function randomSerial(): string {
  return randomBytes(20).toString('hex').toUpperCase();
}

/** `PUB_KEY_ID_` + 28 digits, like a WeChat Pay public-key id. */
export function randomPublicKeyId(): string {
  return `PUB_KEY_ID_${randomText(28, '0123456789')}`;
}

async function rsaKeyPair(): Promise<{ privateKeyPem: string; publicKeyPem: string }> {
  const { privateKey, publicKey } = await generateKeyPairAsync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

export async function generateJwtConfig(): Promise<LocalJwtConfig> {
  const { privateKey, publicKey } = await generateKeyPairAsync('ec', {
    namedCurve: 'P-256',
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return {
    issuer: LOCAL_JWT_ISSUER,
    audience: LOCAL_JWT_AUDIENCE,
    privateKeyPem: privateKey,
    publicKeyPem: publicKey,
    kid: `local-${randomBytes(6).toString('hex')}`,
    alg: 'ES256',
  };
}

/** One fresh fingerprint key under a dated id (a later rotation puts a new id first and keeps this one). */
export function newFingerprintKeys(): Record<string, string> {
  return { [`fp-${new Date().toISOString().slice(0, 10).replaceAll('-', '')}`]: randomBytes(32).toString('base64url') };
}

/** Merchant secrets + the sandbox configuration that matches them (one unit: they share keys). */
export async function generateMerchantsAndSandbox(): Promise<Pick<LocalConfig, 'secrets' | 'sandbox'>> {
  const [direct, partner, wechatpay] = await Promise.all([rsaKeyPair(), rsaKeyPair(), rsaKeyPair()]);
  const pubKeyId = randomPublicKeyId();
  const wechatpayPublicKeys = { [pubKeyId]: wechatpay.publicKeyPem };
  const d = { ...LOCAL_MERCHANTS.direct, serialNo: randomSerial(), apiV3Key: randomText(32), apiV2Key: randomText(32) };
  const p = { ...LOCAL_MERCHANTS.partner, serialNo: randomSerial(), apiV3Key: randomText(32) };

  const secrets: LocalSecrets = {
    [DIRECT_MERCHANT_SECRET_ID]: {
      mchid: d.mchid,
      appid: d.appid,
      merchantSerialNo: d.serialNo,
      merchantPrivateKey: direct.privateKeyPem,
      apiV3Key: d.apiV3Key,
      apiV2Key: d.apiV2Key,
      wechatpayPublicKeys,
      fingerprintKeys: newFingerprintKeys(),
    },
    [SERVICE_PROVIDER_SECRET_ID]: {
      mchid: p.mchid,
      appid: p.appid,
      merchantSerialNo: p.serialNo,
      merchantPrivateKey: partner.privateKeyPem,
      apiV3Key: p.apiV3Key,
      wechatpayPublicKeys,
      fingerprintKeys: newFingerprintKeys(),
    },
  };
  const sandbox: LocalSandboxConfig = {
    wechatpayKey: { id: pubKeyId, ...wechatpay },
    merchants: [
      {
        mchid: d.mchid,
        kind: 'direct',
        appids: [d.appid],
        serialNo: d.serialNo,
        publicKeyPem: direct.publicKeyPem,
        apiV3Key: d.apiV3Key,
        apiV2Key: d.apiV2Key,
        planIds: [...d.planIds],
      },
      {
        mchid: p.mchid,
        kind: 'partner',
        appids: [p.appid],
        serialNo: p.serialNo,
        publicKeyPem: partner.publicKeyPem,
        apiV3Key: p.apiV3Key,
        planIds: [...p.planIds],
      },
    ],
  };
  addLocalPki(secrets, sandbox);
  return { secrets, sandbox };
}

/**
 * Issues the sandbox's local CA, its HTTPS certificate and the direct merchant's API certificate (for its own key)
 * when the sandbox config has none yet: a `.local/` made before refunds existed is upgraded in place.
 */
export function addLocalPki(secrets: LocalSecrets, sandbox: LocalSandboxConfig): boolean {
  if (sandbox.tls && secrets[DIRECT_MERCHANT_SECRET_ID]?.merchantCertificate) return false;
  const ca = createCa();
  sandbox.tls = { caCertPem: ca.caCertPem, ...issueServerCertificate(ca) };
  for (const id of [DIRECT_MERCHANT_SECRET_ID, SERVICE_PROVIDER_SECRET_ID]) {
    const secret = secrets[id];
    const merchant = sandbox.merchants.find((m) => m.mchid === secret?.mchid);
    if (!secret || !merchant) continue;
    secrets[id] = { ...secret, merchantCertificate: issueMerchantCertificate(ca, merchant.mchid, merchant.serialNo, merchant.publicKeyPem) };
  }
  return true;
}

/** A complete, fresh local configuration in memory (the test harness uses this; it touches no files). */
export async function generateLocalConfig(): Promise<LocalConfig> {
  const [merchants, jwt] = await Promise.all([generateMerchantsAndSandbox(), generateJwtConfig()]);
  return { ...merchants, jwt };
}

/**
 * Makes sure `dir` (default `.local`) holds secrets.json, sandbox.json and jwt.json, generating what is
 * missing (dir 0700, files 0600) and reusing what exists. secrets.json and sandbox.json share keys, so they
 * are generated together; when both exist but do not match, this throws rather than overwrite either.
 */
export async function ensureLocalConfig(dir = '.local'): Promise<EnsuredLocalConfig> {
  const abs = resolve(dir);
  const files = { secrets: join(abs, 'secrets.json'), sandbox: join(abs, 'sandbox.json'), jwt: join(abs, 'jwt.json') };
  await mkdir(abs, { recursive: true, mode: 0o700 });
  await chmod(abs, 0o700);

  const created: string[] = [];
  const [secretsRaw, sandboxRaw, jwtRaw] = await Promise.all([
    readJsonIfExists(files.secrets),
    readJsonIfExists(files.sandbox),
    readJsonIfExists(files.jwt),
  ]);

  let secrets: LocalSecrets;
  let sandbox: LocalSandboxConfig;
  const generating: Promise<unknown>[] = [];
  let merchantsPromise: Promise<Pick<LocalConfig, 'secrets' | 'sandbox'>> | undefined;
  if (secretsRaw === undefined || sandboxRaw === undefined) {
    merchantsPromise = generateMerchantsAndSandbox();
    generating.push(merchantsPromise);
  }
  let jwtPromise: Promise<LocalJwtConfig> | undefined;
  if (jwtRaw === undefined) {
    jwtPromise = generateJwtConfig();
    generating.push(jwtPromise);
  }
  await Promise.all(generating);

  if (merchantsPromise) {
    ({ secrets, sandbox } = await merchantsPromise);
    await writePrivateJson(files.secrets, secrets);
    await writePrivateJson(files.sandbox, sandbox);
    created.push(files.secrets, files.sandbox);
  } else {
    if (addMissingFingerprintKeys(secretsRaw)) await writePrivateJson(files.secrets, secretsRaw);
    if (addLocalPki(secretsRaw as LocalSecrets, sandboxRaw as LocalSandboxConfig)) {
      await writePrivateJson(files.secrets, secretsRaw);
      await writePrivateJson(files.sandbox, sandboxRaw);
    }
    secrets = checkSecretsFile(secretsRaw, files.secrets);
    sandbox = sandboxRaw as LocalSandboxConfig;
    checkPair(secrets, sandbox, files);
    await Promise.all([chmod(files.secrets, 0o600), chmod(files.sandbox, 0o600)]);
  }

  let jwt: LocalJwtConfig;
  if (jwtPromise) {
    jwt = await jwtPromise;
    await writePrivateJson(files.jwt, jwt);
    created.push(files.jwt);
  } else {
    jwt = checkJwt(jwtRaw, files.jwt);
    await chmod(files.jwt, 0o600);
  }

  return { secrets, sandbox, jwt, dir: abs, files, created };
}

async function readJsonIfExists(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${path} is not valid JSON; delete it to have it regenerated`);
  }
}

async function writePrivateJson(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

/** Secrets written before fingerprint keys existed get one; nothing else in them changes. */
function addMissingFingerprintKeys(raw: unknown): boolean {
  if (!isObject(raw)) return false;
  let added = false;
  for (const secret of Object.values(raw)) {
    if (isObject(secret) && secret['fingerprintKeys'] === undefined) {
      delete secret['fingerprintKey'];
      secret['fingerprintKeys'] = newFingerprintKeys();
      added = true;
    }
  }
  return added;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function checkSecretsFile(raw: unknown, path: string): LocalSecrets {
  if (!isObject(raw)) throw new Error(`${path} must be a JSON object keyed by secret id; delete .local/ to regenerate`);
  const out: LocalSecrets = {};
  for (const id of [DIRECT_MERCHANT_SECRET_ID, SERVICE_PROVIDER_SECRET_ID]) {
    if (!(id in raw)) throw new Error(`${path} has no secret "${id}"; delete .local/ to regenerate`);
    validateMerchantSecret(raw[id], id); // throws a value-free message naming the field
  }
  for (const [id, secret] of Object.entries(raw)) out[id] = secret as MerchantSecret; // keep the plain JSON
  return out;
}

/** SPKI PEM of a public key, certificate or (derived from) a private key. */
function spki(pem: string): string {
  return createPublicKey(pem).export({ type: 'spki', format: 'pem' }).toString();
}

function checkPair(secrets: LocalSecrets, sandbox: LocalSandboxConfig, files: EnsuredLocalConfig['files']): void {
  const mismatch = (what: string) =>
    new Error(`${files.secrets} and ${files.sandbox} do not match (${what}); delete .local/ to regenerate both`);
  if (!isObject(sandbox) || !isObject(sandbox.wechatpayKey) || !Array.isArray(sandbox.merchants)) {
    throw mismatch('sandbox.json is not a SandboxConfig');
  }
  const { id, privateKeyPem, publicKeyPem } = sandbox.wechatpayKey;
  if (spki(privateKeyPem) !== spki(publicKeyPem)) {
    throw mismatch('the sandbox key pair');
  }
  for (const secretId of [DIRECT_MERCHANT_SECRET_ID, SERVICE_PROVIDER_SECRET_ID]) {
    const secret = secrets[secretId]!;
    const merchant = sandbox.merchants.find((m) => m.mchid === secret.mchid);
    if (!merchant) throw mismatch(`no sandbox merchant ${secret.mchid}`);
    if (merchant.serialNo !== secret.merchantSerialNo) throw mismatch(`serial of ${secret.mchid}`);
    if (merchant.apiV3Key !== secret.apiV3Key) throw mismatch(`APIv3 key of ${secret.mchid}`);
    if (secret.apiV2Key !== undefined && merchant.apiV2Key !== secret.apiV2Key) throw mismatch(`APIv2 key of ${secret.mchid}`);
    if (spki(secret.merchantPrivateKey) !== spki(merchant.publicKeyPem)) throw mismatch(`key pair of ${secret.mchid}`);
    const known = secret.wechatpayPublicKeys[id];
    if (known === undefined || spki(known) !== spki(publicKeyPem)) {
      throw mismatch(`secret "${secretId}" does not trust the sandbox key ${id}`);
    }
  }
}

function checkJwt(raw: unknown, path: string): LocalJwtConfig {
  const ok =
    isObject(raw) &&
    typeof raw.issuer === 'string' &&
    typeof raw.audience === 'string' &&
    typeof raw.privateKeyPem === 'string' &&
    typeof raw.publicKeyPem === 'string' &&
    typeof raw.kid === 'string' &&
    raw.alg === 'ES256';
  if (!ok) throw new Error(`${path} is not a dev JWT configuration; delete it to have it regenerated`);
  return raw as unknown as LocalJwtConfig;
}
