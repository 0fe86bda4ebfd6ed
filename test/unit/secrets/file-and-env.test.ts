import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  FileSecretsLoader,
  SecretsError,
  SecretsManagerLoader,
  secretsLoaderFromEnv,
} from '../../../shared/secrets';
import { API_V3_KEY, expectNoSecretMaterial, validSecret } from './fixtures';

const dir = mkdtempSync(join(tmpdir(), 'secrets-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DIRECT = 'wechatpay/direct-merchant';
const PARTNER = 'wechatpay/service-provider';
let file: string;
let n = 0;

function write(content: unknown): void {
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
}

beforeEach(() => {
  file = join(dir, `secrets-${++n}.json`);
  write({ [DIRECT]: validSecret(), [PARTNER]: validSecret({ mchid: '1900000100', apiV2Key: undefined }) });
});

describe('FileSecretsLoader', () => {
  it('reads a secret by id from the { id: secret } file', async () => {
    const secrets = new FileSecretsLoader({ path: file });
    expect((await secrets.get(DIRECT)).mchid).toBe('1900000001');
    const partner = await secrets.get(PARTNER);
    expect(partner.mchid).toBe('1900000100');
    expect(partner.apiV2Key).toBeUndefined();
  });

  it('caches like the Secrets Manager loader and re-reads the file on refresh', async () => {
    let clock = 0;
    const secrets = new FileSecretsLoader({ path: file, now: () => clock });
    const first = await secrets.get(DIRECT);
    write({ [DIRECT]: validSecret({ merchantSerialNo: 'NEW0' }) });
    expect(await secrets.get(DIRECT)).toBe(first);
    expect((await secrets.refresh(DIRECT)).merchantSerialNo).toBe('NEW0');
    write({ [DIRECT]: validSecret({ merchantSerialNo: 'NEW1' }) });
    expect((await secrets.refresh(DIRECT)).merchantSerialNo).toBe('NEW0'); // throttled
    clock += 5 * 60_000;
    expect((await secrets.get(DIRECT)).merchantSerialNo).toBe('NEW1'); // expired
  });

  it('names the missing secret id and lists the ids present', async () => {
    const e = await new FileSecretsLoader({ path: file }).get('wechatpay/nope').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SecretsError);
    expect((e as SecretsError).code).toBe('not_found');
    expect((e as SecretsError).message).toBe(
      `secret "wechatpay/nope" is not in secrets file ${file} (it has: "${DIRECT}", "${PARTNER}")`,
    );
  });

  it('reports a missing file, invalid JSON and a wrong top level', async () => {
    const missing = await new FileSecretsLoader({ path: join(dir, 'absent.json') }).get(DIRECT).catch((x: unknown) => x);
    expect(missing).toMatchObject({ code: 'not_found' });

    write(`{"${DIRECT}": {"apiV3Key": "${API_V3_KEY}"`);
    const broken = (await new FileSecretsLoader({ path: file }).get(DIRECT).catch((x: unknown) => x)) as SecretsError;
    expect(broken.code).toBe('invalid_json');
    expect(broken.message).toMatch(/^secrets file .* is not valid JSON/);
    expectNoSecretMaterial(broken.message);

    write([validSecret()]);
    await expect(new FileSecretsLoader({ path: file }).get(DIRECT)).rejects.toMatchObject({ code: 'invalid_secret' });
  });

  it('validates the secret and names the field', async () => {
    write({ [DIRECT]: validSecret({ wechatpayPublicKeys: {} }) });
    const e = (await new FileSecretsLoader({ path: file }).get(DIRECT).catch((x: unknown) => x)) as SecretsError;
    expect(e.message).toBe(
      `secret "${DIRECT}" is invalid: "wechatpayPublicKeys" must hold at least one WeChat Pay public key or certificate`,
    );
    expectNoSecretMaterial(e.message);
  });
});

describe('secretsLoaderFromEnv', () => {
  it('chooses Secrets Manager for SECRETS_SOURCE=aws', () => {
    expect(secretsLoaderFromEnv({ SECRETS_SOURCE: 'aws' })).toBeInstanceOf(SecretsManagerLoader);
  });

  it('chooses the file for SECRETS_SOURCE=file', async () => {
    const secrets = secretsLoaderFromEnv({ SECRETS_SOURCE: 'file', SECRETS_FILE: file });
    expect(secrets).toBeInstanceOf(FileSecretsLoader);
    expect((await secrets.get(DIRECT)).mchid).toBe('1900000001');
  });

  it('fails fast on bad configuration, naming the variable', () => {
    expect(() => secretsLoaderFromEnv({})).toThrow('SECRETS_SOURCE is not set; expected "aws" or "file"');
    expect(() => secretsLoaderFromEnv({ SECRETS_SOURCE: 'vault' })).toThrow(
      'SECRETS_SOURCE="vault" is not supported; expected "aws" or "file"',
    );
    expect(() => secretsLoaderFromEnv({ SECRETS_SOURCE: 'file' })).toThrow('SECRETS_SOURCE=file needs SECRETS_FILE');
    expect(() => secretsLoaderFromEnv({ SECRETS_SOURCE: 'file', SECRETS_FILE: join(dir, 'nope.json') })).toThrow(
      /SECRETS_FILE=.*nope\.json does not exist/,
    );
    try {
      secretsLoaderFromEnv({ SECRETS_SOURCE: 'x' });
    } catch (e) {
      expect(e).toMatchObject({ name: 'SecretsError', code: 'config' });
    }
  });
});
