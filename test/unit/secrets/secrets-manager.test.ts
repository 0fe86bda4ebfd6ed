import { inspect } from 'node:util';
import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  SecretsError,
  SecretsManagerLoader,
  type SecretsLoaderEvent,
  type SecretsManagerLoaderOptions,
} from '../../../shared/secrets';
import { API_V3_KEY, expectNoSecretMaterial, validSecret, WECHATPAY_PUBLIC_KEY } from './fixtures';

const ID = 'wechatpay/direct-merchant';
const OTHER = 'wechatpay/service-provider';

const sm = mockClient(SecretsManagerClient);

let clock = 1_000_000;
const now = () => clock;

function loader(options: Omit<SecretsManagerLoaderOptions, 'client' | 'now'> = {}) {
  return new SecretsManagerLoader({ client: new SecretsManagerClient({ region: 'us-east-1' }), now, ...options });
}

function answer(secret: Record<string, unknown> = validSecret()) {
  return { SecretString: JSON.stringify(secret), VersionId: 'v1' };
}

const calls = () => sm.commandCalls(GetSecretValueCommand).length;

beforeEach(() => {
  sm.reset();
  clock = 1_000_000;
});
afterEach(() => sm.reset());

describe('SecretsManagerLoader cache', () => {
  it('reads the secret by id once and serves later calls from memory', async () => {
    sm.on(GetSecretValueCommand).resolves(answer());
    const secrets = loader();
    const first = await secrets.get(ID);
    clock += 60_000;
    const second = await secrets.get(ID);
    expect(second).toBe(first);
    expect(calls()).toBe(1);
    expect(sm.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toEqual({ SecretId: ID });
  });

  it('caches each secret id separately', async () => {
    sm.on(GetSecretValueCommand, { SecretId: ID }).resolves(answer());
    sm.on(GetSecretValueCommand, { SecretId: OTHER }).resolves(answer(validSecret({ mchid: '1900000100' })));
    const secrets = loader();
    expect((await secrets.get(ID)).mchid).toBe('1900000001');
    expect((await secrets.get(OTHER)).mchid).toBe('1900000100');
    await secrets.get(ID);
    await secrets.get(OTHER);
    expect(calls()).toBe(2);
  });

  it('reloads after the max age (default 5 minutes)', async () => {
    sm.on(GetSecretValueCommand)
      .resolvesOnce(answer())
      .resolves(answer(validSecret({ merchantSerialNo: 'AAAA' })));
    const secrets = loader();
    const first = await secrets.get(ID);
    clock += 5 * 60_000 - 1;
    expect(await secrets.get(ID)).toBe(first);
    clock += 1;
    const second = await secrets.get(ID);
    expect(second).not.toBe(first);
    expect(second.merchantSerialNo).toBe('AAAA');
    expect(calls()).toBe(2);
  });

  it('honours a custom max age', async () => {
    sm.on(GetSecretValueCommand).resolves(answer());
    const secrets = loader({ maxAgeMs: 1_000 });
    await secrets.get(ID);
    clock += 1_000;
    await secrets.get(ID);
    expect(calls()).toBe(2);
  });

  it('shares one in-flight request between concurrent callers', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    sm.on(GetSecretValueCommand).callsFake(async () => {
      await gate;
      return answer();
    });
    const secrets = loader();
    const pending = [
      ...Array.from({ length: 20 }, () => secrets.get(ID)),
      ...Array.from({ length: 5 }, () => secrets.refresh(ID)),
    ];
    release();
    const results = await Promise.all(pending);
    expect(new Set(results).size).toBe(1);
    expect(calls()).toBe(1);
  });

  it('shares a failure between concurrent callers and does not cache it', async () => {
    sm.on(GetSecretValueCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }))
      .resolves(answer());
    const secrets = loader();
    const results = await Promise.allSettled([secrets.get(ID), secrets.get(ID)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(calls()).toBe(1);
    await expect(secrets.get(ID)).resolves.toMatchObject({ mchid: '1900000001' });
    expect(calls()).toBe(2);
  });
});

describe('SecretsManagerLoader.refresh', () => {
  it('forces one reload and returns the new version', async () => {
    const rotated = { ...(validSecret().wechatpayPublicKeys as Record<string, string>), PUB_KEY_ID_2: WECHATPAY_PUBLIC_KEY };
    sm.on(GetSecretValueCommand)
      .resolvesOnce(answer())
      .resolves(answer(validSecret({ wechatpayPublicKeys: rotated })));
    const secrets = loader();
    const before = await secrets.get(ID);
    const after = await secrets.refresh(ID);
    expect(after).not.toBe(before);
    expect(Object.keys(after.wechatpayPublicKeys)).toContain('PUB_KEY_ID_2');
    expect(await secrets.get(ID)).toBe(after);
    expect(calls()).toBe(2);
  });

  it('reloads at most once per 30 s per secret id', async () => {
    sm.on(GetSecretValueCommand).resolves(answer());
    const events: SecretsLoaderEvent[] = [];
    const secrets = loader({ onEvent: (e) => events.push(e) });
    await secrets.refresh(ID); // 1
    const cached = await secrets.get(ID);
    for (let i = 0; i < 50; i++) expect(await secrets.refresh(ID)).toBe(cached); // a flood: throttled
    clock += 29_999;
    await secrets.refresh(ID);
    expect(calls()).toBe(1);
    await secrets.refresh(OTHER); // another id has its own budget
    expect(calls()).toBe(2);
    clock += 1;
    await secrets.refresh(ID); // 30 s after the last forced reload
    expect(calls()).toBe(3);
    const throttled = events.filter((e) => e.type === 'refresh_throttled');
    expect(throttled).toHaveLength(51);
    expect(throttled.at(-1)).toEqual({ type: 'refresh_throttled', secretId: ID, retryInMs: 1 });
  });

  it('honours a custom refresh interval', async () => {
    sm.on(GetSecretValueCommand).resolves(answer());
    const secrets = loader({ minRefreshIntervalMs: 5_000 });
    await secrets.refresh(ID);
    clock += 4_999;
    await secrets.refresh(ID);
    expect(calls()).toBe(1);
    clock += 1;
    await secrets.refresh(ID);
    expect(calls()).toBe(2);
  });

  it('a throttled refresh with nothing cached still loads once (through get)', async () => {
    sm.on(GetSecretValueCommand)
      .rejectsOnce(Object.assign(new Error('boom'), { name: 'InternalServiceError' }))
      .resolves(answer());
    const secrets = loader();
    await expect(secrets.refresh(ID)).rejects.toBeInstanceOf(SecretsError);
    await expect(secrets.refresh(ID)).resolves.toMatchObject({ mchid: '1900000001' });
    expect(calls()).toBe(2);
  });
});

describe('SecretsManagerLoader stale fallback', () => {
  it('serves the previous copy when a reload fails, and retries after the refresh interval', async () => {
    sm.on(GetSecretValueCommand)
      .resolvesOnce(answer())
      .rejectsOnce(Object.assign(new Error('connect ETIMEDOUT'), { name: 'TimeoutError' }))
      .resolves(answer(validSecret({ merchantSerialNo: 'BBBB' })));
    const events: SecretsLoaderEvent[] = [];
    const secrets = loader({ onEvent: (e) => events.push(e) });
    const first = await secrets.get(ID);
    clock += 5 * 60_000;
    expect(await secrets.get(ID)).toBe(first);
    expect(events.filter((e) => e.type === 'stale_served')).toHaveLength(1);
    clock += 29_999;
    expect(await secrets.get(ID)).toBe(first);
    expect(calls()).toBe(2);
    clock += 1;
    expect((await secrets.get(ID)).merchantSerialNo).toBe('BBBB');
  });

  it('fails instead when staleIfError is false', async () => {
    sm.on(GetSecretValueCommand)
      .resolvesOnce(answer())
      .rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    const secrets = loader({ staleIfError: false });
    await secrets.get(ID);
    clock += 5 * 60_000;
    await expect(secrets.get(ID)).rejects.toMatchObject({ code: 'source' });
  });
});

describe('SecretsManagerLoader errors', () => {
  async function failure(promise: Promise<unknown>): Promise<SecretsError> {
    const error = await promise.then(
      () => {
        throw new Error('expected a failure');
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SecretsError);
    const e = error as SecretsError;
    expectNoSecretMaterial(e.message);
    expectNoSecretMaterial(inspect(e, { depth: 10 }));
    return e;
  }

  it('names a missing field without leaking values', async () => {
    const { merchantSerialNo: _drop, ...rest } = validSecret();
    sm.on(GetSecretValueCommand).resolves(answer(rest));
    const e = await failure(loader().get(ID));
    expect(e.code).toBe('invalid_secret');
    expect(e.message).toBe(`secret "${ID}" is invalid: "merchantSerialNo" is missing`);
  });

  it('reports invalid JSON without quoting it', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: `{"apiV3Key":"${API_V3_KEY}",}` });
    const e = await failure(loader().get(ID));
    expect(e.code).toBe('invalid_json');
    expect(e.message).toMatch(new RegExp(`^secret "${ID}" is not valid JSON`));
  });

  it('maps ResourceNotFoundException to not_found', async () => {
    sm.on(GetSecretValueCommand).rejects(
      new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", $metadata: {} }),
    );
    const e = await failure(loader().get(ID));
    expect(e.code).toBe('not_found');
    expect(e.message).toBe(`secret "${ID}" was not found in Secrets Manager`);
  });

  it('wraps other AWS errors with their name', async () => {
    sm.on(GetSecretValueCommand).rejects(
      Object.assign(new Error('User is not authorized to perform: secretsmanager:GetSecretValue'), {
        name: 'AccessDeniedException',
      }),
    );
    const e = await failure(loader().get(ID));
    expect(e.code).toBe('source');
    expect(e.message).toContain('AccessDeniedException: User is not authorized');
  });

  it('reads SecretBinary as UTF-8 JSON', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretBinary: new TextEncoder().encode(JSON.stringify(validSecret())) });
    await expect(loader().get(ID)).resolves.toMatchObject({ mchid: '1900000001' });
  });

  it('fails a secret without a value', async () => {
    sm.on(GetSecretValueCommand).resolves({});
    const e = await failure(loader().get(ID));
    expect(e.code).toBe('invalid_secret');
  });

  it('refuses a bad secret id and bad durations', () => {
    expect(() => loader().get('')).toThrow(SecretsError);
    expect(() => loader({ maxAgeMs: -1 })).toThrow('maxAgeMs');
    expect(() => loader({ minRefreshIntervalMs: Number.NaN })).toThrow('minRefreshIntervalMs');
  });
});
