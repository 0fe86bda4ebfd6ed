/**
 * vitest globalSetup: one local stack per test run, shared by every test file.
 *
 * - DynamoDB Local (in memory, free port) with a uniquely named table from shared/store/table.ts, TTL on;
 *   set TEST_DYNAMODB_ENDPOINT to reuse a DynamoDB Local that is already running instead.
 * - A fresh in-memory local configuration (merchant keys, sandbox key, JWT key); the developer's .local/
 *   is never read or written. The merchant secrets go to a temp file (0600).
 * - The sandbox (sandbox/index.ts) in this process, on free ports (TEST_SANDBOX_TIME_SCALE, default 1).
 *
 * Everything is exposed through `inject('localStack')` (test/support/env.ts) and exported as the env of
 * docs/contracts.md §2 for the test workers. The teardown stops what the setup started.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startSandbox } from '../../sandbox/index';
import { ensureTable, freePort, localDynamoDbClient, startDynamoDbLocal, type DynamoDbLocal } from '../../scripts/local/dynamodb';
import { localFunctionEnv } from '../../scripts/local/env';
import { DIRECT_MERCHANT_SECRET_ID, generateLocalConfig, SERVICE_PROVIDER_SECRET_ID } from '../../scripts/local/generate';
import type { LocalStackContext } from './context';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = performance.now();
  // The AWS SDK's "node >= 22 from 2027" notice, once per worker, drowns the test output.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  const teardown = async () => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        console.error(`[local stack] teardown: ${(error as Error).message}`);
      }
    }
    cleanups.length = 0;
  };

  // Started first (a few seconds of JVM start), in parallel with key generation and the sandbox.
  const reuse = process.env.TEST_DYNAMODB_ENDPOINT?.trim();
  const dynamo: Promise<Pick<DynamoDbLocal, 'endpoint' | 'stop'>> = reuse
    ? Promise.resolve({ endpoint: reuse, stop: async () => {} })
    : startDynamoDbLocal({ inMemory: true });
  // Register each stop as soon as the thing exists, even if something else fails first.
  dynamo.then((d) => cleanups.push(() => d.stop()), () => {});
  const tempDir = mkdtemp(join(tmpdir(), 'wechatpay-test-'));
  tempDir.then((dir) => cleanups.push(() => rm(dir, { recursive: true, force: true })), () => {});

  try {
    const timeScale = Number(process.env.TEST_SANDBOX_TIME_SCALE ?? 1);
    if (!(timeScale > 0)) throw new Error('TEST_SANDBOX_TIME_SCALE must be a number > 0');

    const [config, publicPort] = await Promise.all([generateLocalConfig(), freePort()]);
    const sandbox = await startSandbox({ config: config.sandbox, port: 0, backupPort: 0, host: '127.0.0.1', timeScale });
    cleanups.push(() => sandbox.close());

    const secretsFile = join(await tempDir, 'secrets.json');
    await writeFile(secretsFile, JSON.stringify(config.secrets, null, 2), { mode: 0o600 });

    const { endpoint } = await dynamo;
    const tableName = `wechatpay-test-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    const client = localDynamoDbClient(endpoint);
    try {
      await ensureTable(client, tableName);
    } finally {
      client.destroy();
    }

    const publicBaseUrl = `http://127.0.0.1:${publicPort}`;
    const env = localFunctionEnv({
      secretsFile,
      tableName,
      dynamodbEndpoint: endpoint,
      wechatpayBaseUrl: sandbox.url,
      wechatpayBackupBaseUrl: sandbox.backupUrl,
      publicBaseUrl,
      ...(sandbox.tlsUrl && config.sandbox.tls ? { mtls: { baseUrl: sandbox.tlsUrl, caCertPem: config.sandbox.tls.caCertPem } } : {}),
      jwt: config.jwt,
    });
    const previous = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
    Object.assign(process.env, env);
    cleanups.push(() => {
      for (const [name, value] of Object.entries(previous)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    });

    const context: LocalStackContext = {
      dynamodbEndpoint: endpoint,
      tableName,
      sandboxUrl: sandbox.url,
      sandboxBackupUrl: sandbox.backupUrl,
      secretsFile,
      secretIds: { direct: DIRECT_MERCHANT_SECRET_ID, serviceProvider: SERVICE_PROVIDER_SECRET_ID },
      secrets: config.secrets,
      sandboxConfig: config.sandbox,
      jwt: config.jwt,
      publicBaseUrl,
      publicPort,
      env,
    };
    project.provide('localStack', context);
    if (process.env.TEST_STACK_VERBOSE) {
      console.log(`[local stack] ready in ${Math.round(performance.now() - started)} ms: ${endpoint}, ${sandbox.url}`);
    }
    return teardown;
  } catch (error) {
    await Promise.allSettled([dynamo, tempDir]);
    await teardown();
    throw error;
  }
}
