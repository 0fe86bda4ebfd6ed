import { createPublicKey } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader, importSPKI, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSandboxConfig } from '../../../sandbox/config';
import {
  ensureLocalConfig,
  generateLocalConfig,
  type LocalConfig,
} from '../../../scripts/local/generate';
import { mintDevToken } from '../../../scripts/local/token';
import { validateMerchantSecret } from '../../../shared/secrets/schema';

const spki = (pem: string) => createPublicKey(pem).export({ type: 'spki', format: 'pem' }).toString();

describe('generateLocalConfig', () => {
  let config: LocalConfig;
  beforeAll(async () => {
    config = await generateLocalConfig();
  });

  it('produces two valid merchant secrets that trust the sandbox key', () => {
    const direct = validateMerchantSecret(config.secrets['wechatpay/direct-merchant'], 'wechatpay/direct-merchant');
    const partner = validateMerchantSecret(config.secrets['wechatpay/service-provider'], 'wechatpay/service-provider');
    expect(direct).toMatchObject({ mchid: '1900000001', appid: 'wx8888888888888888' });
    expect(partner).toMatchObject({ mchid: '1900000100', appid: 'wx9999999999999999' });
    expect(partner.apiV2Key).toBeUndefined();
    for (const secret of [direct, partner]) {
      expect(secret.merchantSerialNo).toMatch(/^[0-9A-F]{40}$/);
      expect(secret.apiV3Key).toHaveLength(32);
      expect(Object.keys(secret.wechatpayPublicKeys)).toEqual([config.sandbox.wechatpayKey.id]);
    }
    expect(direct.apiV2Key).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(config.sandbox.wechatpayKey.id).toMatch(/^PUB_KEY_ID_\d{28}$/);
  });

  it('gives the sandbox public keys only, matching the merchants’ private keys', () => {
    const sandbox = parseSandboxConfig(JSON.parse(JSON.stringify(config.sandbox)));
    expect(sandbox.merchants.map((m) => [m.mchid, m.kind, m.planIds])).toEqual([
      ['1900000001', 'direct', ['12535']],
      ['1900000100', 'partner', ['PLAN_REPAY_001']],
    ]);
    const text = JSON.stringify(config.sandbox);
    for (const secret of Object.values(config.secrets)) {
      expect(text).not.toContain(secret.merchantPrivateKey.split('\n')[3]);
      const merchant = sandbox.merchants.find((m) => m.mchid === secret.mchid)!;
      expect(spki(merchant.publicKeyPem)).toBe(spki(secret.merchantPrivateKey));
      expect(merchant.serialNo).toBe(secret.merchantSerialNo);
      expect(merchant.apiV3Key).toBe(secret.apiV3Key);
      expect(merchant.apiV2Key).toBe(secret.apiV2Key);
    }
    expect(spki(sandbox.wechatpayKey.privateKeyPem)).toBe(spki(sandbox.wechatpayKey.publicKeyPem));
  });

  it('has an ES256 JWT key whose tokens verify', async () => {
    expect(config.jwt).toMatchObject({ issuer: 'https://auth.local.test/', audience: 'wechatpay-api', alg: 'ES256' });
    const token = await mintDevToken(config.jwt, { scope: 'payments:read', expiresIn: 60 });
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'ES256', kid: config.jwt.kid, typ: 'JWT' });
    const { payload } = await jwtVerify(token, await importSPKI(config.jwt.publicKeyPem, 'ES256'), {
      issuer: config.jwt.issuer,
      audience: config.jwt.audience,
    });
    expect(payload).toMatchObject({ scope: 'payments:read', sub: 'local-developer' });
  });

  it('is different every time', async () => {
    const other = await generateLocalConfig();
    expect(other.sandbox.wechatpayKey.id).not.toBe(config.sandbox.wechatpayKey.id);
    expect(other.jwt.kid).not.toBe(config.jwt.kid);
  });
});

describe('ensureLocalConfig', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'local-config-'));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('generates on the first run (dir 0700, files 0600) and reuses afterwards', async () => {
    const dir = join(root, 'a', '.local');
    const first = await ensureLocalConfig(dir);
    expect(first.created.sort()).toEqual([first.files.jwt, first.files.sandbox, first.files.secrets].sort());
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    for (const file of Object.values(first.files)) expect((await stat(file)).mode & 0o777).toBe(0o600);

    const onDisk = JSON.parse(await readFile(first.files.secrets, 'utf8'));
    expect(Object.keys(onDisk)).toEqual(['wechatpay/direct-merchant', 'wechatpay/service-provider']);
    expect(onDisk).toEqual(first.secrets);
    parseSandboxConfig(JSON.parse(await readFile(first.files.sandbox, 'utf8')));

    const second = await ensureLocalConfig(dir);
    expect(second.created).toEqual([]);
    expect(second.secrets).toEqual(first.secrets);
    expect(second.sandbox).toEqual(first.sandbox);
    expect(second.jwt).toEqual(first.jwt);
  });

  it('regenerates only what is missing; secrets + sandbox go together', async () => {
    const dir = join(root, 'b');
    const first = await ensureLocalConfig(dir);
    await unlink(first.files.jwt);
    const jwtOnly = await ensureLocalConfig(dir);
    expect(jwtOnly.created).toEqual([first.files.jwt]);
    expect(jwtOnly.secrets).toEqual(first.secrets);
    expect(jwtOnly.jwt.kid).not.toBe(first.jwt.kid);

    await unlink(first.files.sandbox);
    const pair = await ensureLocalConfig(dir);
    expect(pair.created.sort()).toEqual([first.files.sandbox, first.files.secrets].sort());
    expect(pair.sandbox.wechatpayKey.id).not.toBe(first.sandbox.wechatpayKey.id);
    expect(pair.jwt).toEqual(jwtOnly.jwt);
  });

  it('refuses secrets and sandbox files that do not belong together', async () => {
    const a = await ensureLocalConfig(join(root, 'c1'));
    const b = await ensureLocalConfig(join(root, 'c2'));
    await writeFile(a.files.sandbox, JSON.stringify(b.sandbox));
    await expect(ensureLocalConfig(join(root, 'c1'))).rejects.toThrow(/do not match .*delete \.local\/ to regenerate/);
  });

  it('names the broken field of a hand-edited secret without quoting it', async () => {
    const d = await ensureLocalConfig(join(root, 'd'));
    const secrets = JSON.parse(await readFile(d.files.secrets, 'utf8'));
    const key = secrets['wechatpay/direct-merchant'].apiV3Key as string;
    secrets['wechatpay/direct-merchant'].apiV3Key = `${key}!`;
    await writeFile(d.files.secrets, JSON.stringify(secrets));
    const error = (await ensureLocalConfig(join(root, 'd')).then(
      () => new Error('expected a failure'),
      (e: unknown) => e as Error,
    ));
    expect(error.message).toContain('"apiV3Key" must be exactly 32 bytes');
    expect(error.message).not.toContain(key);
  });
});
