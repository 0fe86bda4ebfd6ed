import { spawn } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateSandboxFixture, loadSandboxConfig, parseSandboxConfig } from '../../../sandbox/index';
import { encryptSensitive } from './support/signer';

describe('generateSandboxFixture', () => {
  const fx = generateSandboxFixture();

  it('has matching keys, ids and secrets in the documented shapes', () => {
    expect(fx.wechatpay.publicKeyId).toMatch(/^PUB_KEY_ID_\d{28}$/);
    expect(fx.config.wechatpayKey.id).toBe(fx.wechatpay.publicKeyId);
    for (const m of [fx.direct, fx.partner]) {
      expect(m.serialNo).toMatch(/^[0-9A-F]{40}$/);
      expect(m.apiV3Key).toMatch(/^[\x21-\x7e]{32}$/);
      expect(createPrivateKey(m.privateKeyPem).asymmetricKeyDetails?.modulusLength).toBe(2048);
      expect(createPublicKey(m.privateKeyPem).export({ type: 'spki', format: 'pem' })).toBe(m.publicKeyPem);
      expect(m.secret).toMatchObject({
        mchid: m.mchid,
        appid: m.appid,
        merchantSerialNo: m.serialNo,
        merchantPrivateKey: m.privateKeyPem,
        apiV3Key: m.apiV3Key,
        wechatpayPublicKeys: { [fx.wechatpay.publicKeyId]: fx.wechatpay.publicKeyPem },
      });
    }
    expect(fx.direct.apiV2Key).toMatch(/^[\x21-\x7e]{32}$/);
    expect(fx.partner.apiV2Key).toBeUndefined();
    expect(fx.config.merchants.map((m) => m.kind)).toEqual(['direct', 'partner']);
    expect(JSON.stringify(fx.config)).not.toContain(fx.direct.privateKeyPem);
    // sensitive fields encrypted to the fixture's public key decrypt with the sandbox key
    expect(encryptSensitive(fx.wechatpay.publicKeyPem, 'x')).toMatch(/^[A-Za-z0-9+/]+=*$/);
  });

  it('round-trips through a JSON file and the loader', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sandbox-config-'));
    try {
      const path = join(dir, 'sandbox.json');
      await writeFile(path, JSON.stringify(fx.config));
      expect(await loadSandboxConfig(path)).toEqual(fx.config);
      await writeFile(path, '{');
      await expect(loadSandboxConfig(path)).rejects.toThrow(/not valid JSON/);
      await expect(loadSandboxConfig(join(dir, 'missing.json'))).rejects.toThrow(/cannot read/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects malformed configurations', () => {
    expect(() => parseSandboxConfig({})).toThrow(/wechatpayKey/);
    expect(() => parseSandboxConfig({ ...fx.config, merchants: [] })).toThrow(/merchants/);
    const badKey = { ...fx.config, merchants: [{ ...fx.config.merchants[0], apiV3Key: 'short' }] };
    expect(() => parseSandboxConfig(badKey)).toThrow(/apiV3Key/);
    const dup = { ...fx.config, merchants: [fx.config.merchants[0], fx.config.merchants[0]] };
    expect(() => parseSandboxConfig(dup)).toThrow(/duplicated/);
    const { publicKeyPem: _omit, ...noPub } = fx.config.wechatpayKey;
    expect(parseSandboxConfig({ ...fx.config, wechatpayKey: noPub }).wechatpayKey.publicKeyPem).toContain('BEGIN PUBLIC KEY');
  });

  it('runs standalone (npm run sandbox) from SANDBOX_CONFIG and SANDBOX_PORT', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sandbox-main-'));
    const path = join(dir, 'sandbox.json');
    await writeFile(path, JSON.stringify(fx.config));
    const child = spawn(process.execPath, ['--import', 'tsx', 'sandbox/main.ts'], {
      env: { ...process.env, SANDBOX_CONFIG: path, SANDBOX_PORT: '0', SANDBOX_BACKUP_PORT: '0', SANDBOX_TIME_SCALE: '0.01' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`no banner: ${out}`)), 20_000);
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /WeChat Pay sandbox on (http:\/\/\S+)/.exec(out);
          if (m?.[1]) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        });
        child.stderr.on('data', (c: Buffer) => {
          out += c.toString();
        });
        child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
      });
      const health = await fetch(`${url}/sandbox/health`);
      expect(health.status).toBe(200);
      const info = (await (await fetch(`${url}/sandbox/info`)).json()) as Record<string, unknown>;
      expect(info['wechatpayPublicKeyId']).toBe(fx.wechatpay.publicKeyId);
    } finally {
      child.kill('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    }
  });
});
