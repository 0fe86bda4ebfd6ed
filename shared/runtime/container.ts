import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { loadConfig, type AppConfig } from '../config/env';
import { MerchantDirectory } from '../merchant/directory';
import { secretsLoaderFromEnv } from '../secrets';
import type { SecretsLoader } from '../secrets/types';
import { ClaimStore } from '../store/claims';
import { createDynamoClient } from '../store/client';

/**
 * The per-container singletons every handler shares: built on first use (so a cold start pays once and a bad
 * configuration fails the first request loudly), then reused by every warm invocation.
 */
export interface Runtime {
  readonly config: AppConfig;
  readonly dynamo: DynamoDBClient;
  readonly claims: ClaimStore;
  readonly merchants: MerchantDirectory;
  /** Business time: validity windows, deduction hours, record times. */
  now(): number;
  /** Real time, for signature freshness (WeChat signs with it). The same as `now` except on a moved local clock. */
  wallClock(): number;
}

export interface RuntimeOverrides {
  env?: Record<string, string | undefined>;
  secrets?: SecretsLoader;
  fetch?: typeof fetch;
  now?: () => number;
  /** Real time for signature freshness; defaults to `now` when that is overridden, else the wall clock. */
  wallClock?: () => number;
}

export function createRuntime(overrides: RuntimeOverrides = {}): Runtime {
  const env = overrides.env ?? process.env;
  const config = loadConfig(env);
  const offsetMs = config.clockOffsetMs;
  const now = overrides.now ?? (offsetMs === 0 ? Date.now : () => Date.now() + offsetMs);
  const wallClock = overrides.wallClock ?? overrides.now ?? Date.now;
  const dynamo = createDynamoClient(config.dynamoEndpoint ? { endpoint: config.dynamoEndpoint } : {});
  const secrets = overrides.secrets ?? secretsLoaderFromEnv(env);
  const merchants = new MerchantDirectory(
    secrets,
    { direct: config.directMerchantSecretId, partner: config.serviceProviderSecretId },
    {
      baseUrls: config.wechatpayBaseUrls,
      timeoutMs: config.wechatpayTimeoutMs,
      ...(overrides.fetch ? { fetch: overrides.fetch } : {}),
    },
  );
  return { config, dynamo, claims: new ClaimStore({ client: dynamo, tableName: config.tableName, now }), merchants, now, wallClock };
}

let current: Runtime | undefined;

export function runtime(): Runtime {
  current ??= createRuntime();
  return current;
}

/** For tests that drive handlers in-process against their own runtime. */
export function useRuntime(next: Runtime | undefined): void {
  current = next;
}
