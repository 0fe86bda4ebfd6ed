/**
 * The local stack the warm and throughput sections share: DynamoDB Local (free port, in memory) with the table,
 * the sandbox on loopback with a freshly generated configuration, and an in-process runtime whose every network
 * round trip is counted — DynamoDB by a middleware on the client, WeChat by the `fetch` the runtime is given,
 * Secrets Manager by a loader that counts its loads (it stands in for Secrets Manager: same cache, same validation).
 */
import { createPrivateKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchWriteItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { startSandbox, type RunningSandbox } from '../sandbox/index';
import { offsetToBeijingHour } from '../sandbox/clock';
import { ensureTable, freePort, LOCAL_AWS_ENV, localDynamoDbClient, startDynamoDbLocal, type DynamoDbLocal } from '../scripts/local/dynamodb';
import { localFunctionEnv } from '../scripts/local/env';
import { DIRECT_MERCHANT_SECRET_ID, generateLocalConfig, type LocalConfig } from '../scripts/local/generate';
import { createRuntime, useRuntime, type Runtime } from '../shared/runtime/container';
import { CachedSecretsLoader } from '../shared/secrets/cache';
import { validateMerchantSecret } from '../shared/secrets/schema';
import type { MerchantSecret } from '../shared/secrets/types';
import { createDynamoClient } from '../shared/store/client';
import { toAttributes, type Item } from '../shared/store/items';
import { allowedContext } from '../shared/auth/verdict';
import { keys as recordKeys } from '../shared/store/keys';
import { indexContract } from '../shared/papay/contract-index';
import { encryptResource, paidTransaction, type BuiltNotification, type NotificationKeys } from '../test/support/notifications';
import { ms, progress, silenced } from './stats';

/** Round trips (and the time spent in them) since the last reset. */
export class Counters {
  dynamo = 0;
  dynamoOps: string[] = [];
  dynamoMs = 0;
  wechat = 0;
  wechatCalls: string[] = [];
  wechatMs = 0;
  secrets = 0;

  reset(): void {
    this.dynamo = 0;
    this.dynamoOps = [];
    this.dynamoMs = 0;
    this.wechat = 0;
    this.wechatCalls = [];
    this.wechatMs = 0;
    this.secrets = 0;
  }
}

/** A SecretsLoader over in-memory secrets whose every load is one (counted) "GetSecretValue". */
export class CountingSecretsLoader extends CachedSecretsLoader {
  constructor(
    private readonly secrets: Record<string, MerchantSecret>,
    private readonly counters: Counters,
  ) {
    super();
  }

  protected override async fetchSecret(secretId: string): Promise<MerchantSecret> {
    this.counters.secrets += 1;
    const secret = this.secrets[secretId];
    if (secret === undefined) throw new Error(`no secret ${secretId}`);
    return validateMerchantSecret(JSON.parse(JSON.stringify(secret)) as unknown, secretId);
  }
}

export interface BenchStack {
  rt: Runtime;
  counters: Counters;
  /** The function environment (docs/contracts.md §2), also used for the fresh-process probes. */
  env: Record<string, string>;
  tableName: string;
  endpoint: string;
  sandbox: RunningSandbox;
  config: LocalConfig;
  notificationKeys: NotificationKeys;
  direct: { mchid: string; appid: string };
  /** A second client configured like the runtime's, for the raw baselines and for seeding. */
  raw: DynamoDBClient;
  close(): Promise<void>;
}

export async function startBenchStack(): Promise<BenchStack> {
  for (const [name, value] of Object.entries(LOCAL_AWS_ENV)) process.env[name] ??= value;
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const cleanups: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  };
  try {
    const started = Date.now();
    const dynamoPromise = startDynamoDbLocal({ inMemory: true });
    dynamoPromise.then((d) => cleanups.push(() => d.stop()), () => {});
    const [config, publicPort, dir] = await Promise.all([generateLocalConfig(), freePort(), mkdtemp(join(tmpdir(), 'wechatpay-bench-stack-'))]);
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const sandbox = await startSandbox({ config: config.sandbox as never, timeScale: 0.001 });
    cleanups.push(() => sandbox.close());
    const secretsFile = join(dir, 'secrets.json');
    await writeFile(secretsFile, JSON.stringify(config.secrets), { mode: 0o600 });

    const dynamo: DynamoDbLocal = await dynamoPromise;
    const tableName = `wechatpay-bench-${randomBytes(4).toString('hex')}`;
    const setup = localDynamoDbClient(dynamo.endpoint);
    try {
      await ensureTable(setup, tableName);
    } finally {
      setup.destroy();
    }
    progress(`stack: DynamoDB Local + table + sandbox ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const env = {
      ...localFunctionEnv({
        secretsFile,
        tableName,
        dynamodbEndpoint: dynamo.endpoint,
        wechatpayBaseUrl: sandbox.url,
        wechatpayBackupBaseUrl: sandbox.backupUrl,
        publicBaseUrl: `http://127.0.0.1:${publicPort}`,
        jwt: config.jwt,
      }),
      H5_QUERY_AFTER_SECONDS: '60',
      WECHATPAY_TIMEOUT_MS: '5000',
    };

    const counters = new Counters();
    const countingFetch: typeof fetch = async (input, init) => {
      const started = process.hrtime.bigint();
      const url = new URL(String(input instanceof Request ? input.url : input));
      try {
        return await fetch(input, init);
      } finally {
        counters.wechat += 1;
        counters.wechatCalls.push(`${init?.method ?? 'GET'} ${url.pathname}`);
        counters.wechatMs += ms(process.hrtime.bigint() - started);
      }
    };
    // Business time (ours and the sandbox's) at the next 10:00 Beijing: papay deductions are taken 07:00-22:00 only,
    // and a bench must not depend on the hour it runs at. Signatures keep the wall clock.
    const businessOffsetMs = offsetToBeijingHour(Date.now());
    await fetch(`${sandbox.url}/sandbox/time`, { method: 'POST', body: JSON.stringify({ advance_seconds: businessOffsetMs / 1000 }) });
    const rt = createRuntime({
      env,
      fetch: countingFetch,
      secrets: new CountingSecretsLoader(config.secrets, counters),
      now: () => Date.now() + businessOffsetMs,
    });
    rt.dynamo.middlewareStack.add(
      (next, context) => async (args) => {
        const started = process.hrtime.bigint();
        try {
          return await next(args);
        } finally {
          counters.dynamo += 1;
          counters.dynamoOps.push(String(context.commandName ?? '?').replace(/Command$/, ''));
          counters.dynamoMs += ms(process.hrtime.bigint() - started);
        }
      },
      // Inside the retry middleware (finalizeRequest), so every attempt on the wire counts.
      { step: 'deserialize', name: 'benchRoundTripCounter' },
    );
    useRuntime(rt);
    cleanups.push(async () => {
      useRuntime(undefined);
      rt.dynamo.destroy();
    });
    const raw = createDynamoClient({ endpoint: dynamo.endpoint });
    cleanups.push(async () => raw.destroy());

    const direct = config.secrets[DIRECT_MERCHANT_SECRET_ID] as MerchantSecret;
    return {
      rt,
      counters,
      env,
      tableName,
      endpoint: dynamo.endpoint,
      sandbox,
      config,
      notificationKeys: { serial: config.sandbox.wechatpayKey.id, privateKeyPem: config.sandbox.wechatpayKey.privateKeyPem, apiV3Key: direct.apiV3Key },
      direct: { mchid: direct.mchid, appid: direct.appid },
      raw,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

export const uniqueId = (prefix: string) => `${prefix}${Date.now().toString(36)}${randomBytes(6).toString('hex')}`.toUpperCase();

/** A create-H5-order body (a fresh out_trade_no each call). */
export function h5OrderBody(outTradeNo = uniqueId('B')) {
  return {
    out_trade_no: outTradeNo,
    description: 'Image形象店-深圳腾大-QQ公仔',
    amount: { total: 100, currency: 'CNY' },
    scene_info: { payer_client_ip: '14.23.150.211', h5_info: { type: 'iOS' } },
  };
}

const parsedKeys = new Map<string, KeyObject>();

/**
 * A distinct, validly signed notification (fresh event id, nonce and timestamp) paying `outTradeNo`: the envelope of
 * test/support/notifications.ts's buildNotification, signed with a pre-parsed key so that thousands of them can be
 * made between timed phases quickly (buildNotification re-parses the PEM on every call).
 */
export function paymentNotification(stack: BenchStack, outTradeNo: string, atMs = stack.rt.now()): BuiltNotification {
  return signedV3Notification(stack, 'TRANSACTION.SUCCESS', 'test', 'transaction', 'transaction', paidTransaction(stack.direct, outTradeNo), atMs);
}

/** A v3 notification envelope, encrypted and signed as WeChat would (the key parsed once per PEM). */
function signedV3Notification(
  stack: BenchStack,
  eventType: string,
  summary: string,
  originalType: string,
  associatedData: string,
  resource: unknown,
  atMs = stack.rt.now(),
): BuiltNotification {
  const keys = stack.notificationKeys;
  let key = parsedKeys.get(keys.privateKeyPem);
  if (key === undefined) {
    key = createPrivateKey(keys.privateKeyPem);
    parsedKeys.set(keys.privateKeyPem, key);
  }
  const body = JSON.stringify({
    id: `EV-${randomBytes(8).toString('hex')}`,
    create_time: new Date().toISOString().replace(/\.\d+Z$/, '+00:00'),
    resource_type: 'encrypt-resource',
    event_type: eventType,
    summary,
    resource: { original_type: originalType, ...encryptResource(JSON.stringify(resource), keys.apiV3Key, associatedData) },
  });
  // The verifier's clock: business time in this process (moved to 10:00 Beijing), the wall clock in a fresh one.
  const timestamp = Math.floor(atMs / 1000);
  const nonce = randomBytes(16).toString('hex').toUpperCase();
  return {
    body,
    headers: {
      'wechatpay-timestamp': String(timestamp),
      'wechatpay-nonce': nonce,
      'wechatpay-signature': sign('sha256', Buffer.from(`${timestamp}\n${nonce}\n${body}\n`), key).toString('base64'),
      'wechatpay-serial': keys.serial,
      'wechatpay-signature-type': 'WECHATPAY2-SHA256-RSA2048',
      'content-type': 'application/json',
    },
  };
}

export function httpEvent(body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/',
    headers,
    body,
    isBase64Encoded: false,
    // What the Lambda authorizer passes a merchant route for a valid token (notify routes ignore it).
    requestContext: { requestId: randomBytes(8).toString('hex'), timeEpoch: Date.now(), authorizer: { lambda: allowedContext('bench', 'payments:write contracts:write refunds:write deductions:write') } },
  } as never;
}

let invocation = 0;
/** A Lambda context like the runtime's, so Powertools binds it as it does in the cloud. */
export function lambdaContext(functionName: string) {
  invocation += 1;
  return {
    awsRequestId: `bench-${invocation}`,
    functionName,
    functionVersion: '$LATEST',
    memoryLimitInMB: '512',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'bench',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => 10_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  } as never;
}

/**
 * Puts `count` unpaid H5 orders shaped exactly like `template` (an order the use case created and stored) under
 * fresh out_trade_nos, with batched writes on the raw client. Returns the out_trade_nos.
 */
export async function seedOrders(stack: BenchStack, template: Item, count: number, prefix: string): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}${i.toString(36).padStart(4, '0')}${randomBytes(3).toString('hex')}`.toUpperCase());
  const batches: Record<string, AttributeValue>[][] = [];
  for (let i = 0; i < ids.length; i += 25) {
    batches.push(
      ids.slice(i, i + 25).map((id) =>
        toAttributes({ ...template, ...recordKeys.h5Order(id), out_trade_no: id, lease_token: undefined, lease_until: undefined }),
      ),
    );
  }
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      let items = batches[next++] as Record<string, AttributeValue>[];
      for (let attempt = 0; items.length > 0; attempt++) {
        const out = await stack.raw.send(new BatchWriteItemCommand({ RequestItems: { [stack.tableName]: items.map((Item) => ({ PutRequest: { Item } })) } }));
        items = (out.UnprocessedItems?.[stack.tableName] ?? []).map((r) => r.PutRequest?.Item as Record<string, AttributeValue>);
        if (attempt > 10) throw new Error('seeding: DynamoDB Local keeps returning unprocessed items');
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return ids;
}

/** An H5 order created through `create`, paid at the sandbox, and recorded paid in our table (untimed preparation). */
export async function paidH5Order(
  stack: BenchStack,
  create: (event: never, context: never) => Promise<{ statusCode?: number; body?: string }>,
): Promise<string> {
  const body = h5OrderBody();
  const res = await silenced(() => create(httpEvent(JSON.stringify(body)) as never, lambdaContext('createH5Order') as never));
  if (res.statusCode !== 201) throw new Error(`create-h5-order answered ${res.statusCode}: ${res.body}`);
  const h5Url = (JSON.parse(res.body ?? '{}') as { h5_url: string }).h5_url;
  const acted = await fetch(`${stack.sandbox.url}/sandbox/act`, { method: 'POST', body: JSON.stringify({ url: h5Url, action: 'pay' }) });
  if (acted.status !== 200) throw new Error(`sandbox pay answered ${acted.status}`);
  const paid = stack.sandbox.state.listOrders().find((o) => o.out_trade_no === body.out_trade_no);
  await stack.rt.claims.touch(recordKeys.h5Order(body.out_trade_no), {
    state: 'SUCCESS',
    transaction_id: paid?.transaction_id,
    success_time: new Date().toISOString(),
    payer_total: body.amount.total,
  });
  return body.out_trade_no;
}

/**
 * A papay contract signed through a pay-and-sign order paid at the sandbox, and recorded signed here as its contract
 * notification would (untimed preparation). Returns its contract_id.
 */
export async function signedPapayContract(
  stack: BenchStack,
  create: (event: never, context: never) => Promise<{ statusCode?: number; body?: string }>,
): Promise<string> {
  const merchant = stack.config.sandbox.merchants.find((m: { mchid: string }) => m.mchid === stack.direct.mchid) as { planIds: string[] };
  const outTradeNo = uniqueId('BP');
  const contractCode = uniqueId('BK');
  const body = {
    out_trade_no: outTradeNo,
    body: '会员月卡',
    total_fee: 1,
    spbill_create_ip: '123.12.12.123',
    trade_type: 'APP',
    plan_id: Number(merchant.planIds[0]),
    contract_code: contractCode,
    request_serial: String(Date.now()),
    contract_display_account: '代扣用户',
  };
  const res = await silenced(() => create(httpEvent(JSON.stringify(body)) as never, lambdaContext('createContractOrder') as never));
  if (res.statusCode !== 201) throw new Error(`create-contract-order answered ${res.statusCode}: ${res.body}`);
  const acted = await fetch(`${stack.sandbox.url}/sandbox/act`, { method: 'POST', body: JSON.stringify({ out_trade_no: outTradeNo, action: 'pay' }) });
  if (acted.status !== 200) throw new Error(`sandbox pay answered ${acted.status}`);
  const signed = stack.sandbox.state.listContracts().papay.find((c) => c.contract_code === contractCode && c.state === 'SIGNED');
  if (!signed?.contract_id) throw new Error('the sandbox signed no contract');
  await stack.rt.claims.touch(recordKeys.contractCode(contractCode), { state: 'SIGNED', contract_id: signed.contract_id });
  await indexContract(stack.rt, signed.contract_id, contractCode, 'SIGNED');
  return signed.contract_id;
}

/** REFUND.SUCCESS for a refund we hold, signed and encrypted as WeChat would (test/support/notifications). */
export function refundNotification(stack: BenchStack, outRefundNo: string): BuiltNotification {
  const r = stack.sandbox.state.listRefunds().find((x) => x.out_refund_no === outRefundNo);
  if (!r) throw new Error(`the sandbox has no refund ${outRefundNo}`);
  const resource = {
    mchid: r.mchid,
    out_trade_no: r.out_trade_no,
    transaction_id: r.transaction_id,
    out_refund_no: r.out_refund_no,
    refund_id: r.refund_id,
    refund_status: 'SUCCESS',
    success_time: new Date().toISOString().replace(/\.\d+Z$/, '+00:00'),
    user_received_account: '支付用户零钱',
    amount: { total: r.total, refund: r.refund, payer_total: r.total, payer_refund: r.refund },
  };
  return signedV3Notification(stack, 'REFUND.SUCCESS', '退款成功', 'refund', '', resource);
}
