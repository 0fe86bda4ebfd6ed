import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { createRuntime, useRuntime, type Runtime, type RuntimeOverrides } from '../../shared/runtime/container';
import { startSandbox, type RunningSandbox } from '../../sandbox/index';
import { localStack } from './env';
import { serveHandlers, type LambdaHttpHandler, type ServedHandlers } from './lambda-http';
import { authorizedRequestContext } from './authorized';
import type { NotificationKeys } from './notifications';
import type { MerchantSecret, SecretsLoader } from '../../shared/secrets/types';

/**
 * A product flow under test, in-process: a private sandbox (so its fault switches touch no other file),
 * the notify handlers served on a real loopback port for the sandbox to deliver to, and a runtime whose
 * WeChat calls are counted and whose clock can be moved. Handlers see it through `useRuntime`.
 */
export interface WechatCall {
  method: string;
  url: string;
  origin: string;
  path: string;
  authorization?: string;
}

export interface FlowClock {
  /** Added to real time. */
  offsetMs: number;
  /** When set, the runtime's clock stands still at this epoch ms. */
  frozenMs?: number | undefined;
}

export interface FlowStack {
  sandbox: RunningSandbox;
  served: ServedHandlers;
  /** The runtime handlers use now (see `use`). */
  rt: Runtime;
  /** `METHOD /path` of every WeChat call since the last `reset()`. */
  calls: string[];
  /** The same calls in detail (origin, Authorization), for failover and leak checks. */
  requests: WechatCall[];
  /** Moves the runtimes' clock. */
  clock: FlowClock;
  /** Another runtime over the same sandbox, table and counters, with environment (and secrets) overrides. */
  runtimeWith(env: Record<string, string>, overrides?: Pick<RuntimeOverrides, 'secrets'>): Runtime;
  /** Makes `rt` the runtime the handlers use. */
  use(rt: Runtime): void;
  merchant(role: 'direct' | 'partner'): { mchid: string; appid: string; apiV3Key: string; apiV2Key?: string };
  /** Keys to build notifications the runtime accepts, as the sandbox would sign them. */
  notificationKeys(role: 'direct' | 'partner'): NotificationKeys;
  /** `POST /sandbox/act` (what a person's click does). */
  act(body: Record<string, unknown>): Promise<{ status: number; json: Record<string, any> }>;
  /** Clears call counts, the clock offset and every fault switch. */
  reset(): Promise<void>;
  close(): Promise<void>;
}

export interface FlowOptions {
  /** Notify routes to serve, e.g. `{ 'POST /notify/h5-payment': handler }`. */
  routes: Record<string, LambdaHttpHandler>;
  /** Extra environment for the runtime. */
  env?: Record<string, string>;
  /** Seen before each WeChat call; may answer instead of the network (e.g. to simulate a refused connection). */
  intercept?: (url: URL, init: RequestInit | undefined) => Promise<Response> | undefined;
  /** Another table (e.g. one of the test's own) and DynamoDB endpoint; default: the run's. */
  tableName?: string;
  dynamodbEndpoint?: string;
  /** Sandbox re-send delays × this (default 0.001). */
  timeScale?: number;
  /** Called with every runtime built (e.g. to add DynamoDB middleware). */
  onRuntime?: (rt: Runtime) => void;
}

const CLEAR_FAULTS = {
  systemError: 0,
  timeout: 0,
  signTest: 0,
  match: '',
  mainDown: false,
  notifyDelayMs: 0,
  notifyCopies: 1,
  notifyOrder: 'normal',
  notifySignTest: 0,
  notifyDrop: 0,
  notifyPayload: 'full',
  refundOutcome: 'success',
  deductionOutcome: 'success',
  contractRefused: 0,
} as const;

export async function startFlowStack(options: FlowOptions): Promise<FlowStack> {
  const stack = localStack();
  const sandbox = await startSandbox({ config: stack.sandboxConfig as never, timeScale: options.timeScale ?? 0.001 });
  const served = await serveHandlers(options.routes);
  const calls: string[] = [];
  const requests: WechatCall[] = [];
  const clock: FlowClock = { offsetMs: 0 };
  const countingFetch: typeof fetch = (input, init) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    const headers = (init?.headers ?? {}) as Record<string, string>;
    const authorization = Object.entries(headers).find(([name]) => name.toLowerCase() === 'authorization')?.[1];
    calls.push(`${init?.method ?? 'GET'} ${url.pathname}`);
    requests.push({ method: init?.method ?? 'GET', url: url.href, origin: url.origin, path: url.pathname, ...(authorization ? { authorization } : {}) });
    return options.intercept?.(url, init) ?? fetch(input, init);
  };
  const runtimeWith = (env: Record<string, string>, overrides: Pick<RuntimeOverrides, 'secrets'> = {}): Runtime => {
    const rt = createRuntime({
      ...overrides,
      env: {
        ...stack.env,
        ...(options.tableName ? { TABLE_NAME: options.tableName } : {}),
        ...(options.dynamodbEndpoint ? { DYNAMODB_ENDPOINT: options.dynamodbEndpoint } : {}),
        WECHATPAY_BASE_URL: sandbox.url,
        WECHATPAY_BACKUP_BASE_URL: sandbox.backupUrl,
        ...(sandbox.tlsUrl && stack.sandboxConfig.tls
          ? { WECHATPAY_MTLS_BASE_URL: sandbox.tlsUrl, WECHATPAY_TLS_CA_PEM: (stack.sandboxConfig.tls as { caCertPem: string }).caCertPem }
          : {}),
        PUBLIC_BASE_URL: served.url,
        WECHATPAY_TIMEOUT_MS: '2000',
        ...options.env,
        ...env,
      },
      fetch: countingFetch,
      now: () => clock.frozenMs ?? Date.now() + clock.offsetMs,
      // Signatures are checked against real time, as the sandbox signs with it; a frozen clock freezes both.
      wallClock: () => clock.frozenMs ?? Date.now(),
    });
    options.onRuntime?.(rt);
    return rt;
  };

  const secretOf = (role: 'direct' | 'partner') => stack.secrets[role === 'direct' ? stack.secretIds.direct : stack.secretIds.serviceProvider]!;
  const flow: FlowStack = {
    sandbox,
    served,
    rt: runtimeWith({}),
    calls,
    requests,
    clock,
    runtimeWith,
    use: (rt) => {
      flow.rt = rt;
      useRuntime(rt);
    },
    merchant: (role) => {
      const secret = secretOf(role);
      return { mchid: secret.mchid, appid: secret.appid, apiV3Key: secret.apiV3Key, ...(secret.apiV2Key ? { apiV2Key: secret.apiV2Key } : {}) };
    },
    notificationKeys: (role) => ({
      serial: stack.sandboxConfig.wechatpayKey.id,
      privateKeyPem: stack.sandboxConfig.wechatpayKey.privateKeyPem,
      apiV3Key: secretOf(role).apiV3Key,
    }),
    act: async (body) => {
      const response = await fetch(`${sandbox.url}/sandbox/act`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: response.status, json: (await response.json()) as Record<string, any> };
    },
    reset: async () => {
      calls.length = 0;
      requests.length = 0;
      clock.offsetMs = 0;
      clock.frozenMs = undefined;
      await sandbox.faults.set({ ...CLEAR_FAULTS });
    },
    close: async () => {
      useRuntime(undefined);
      await served.close();
      await sandbox.close();
    },
  };
  useRuntime(flow.rt);
  return flow;
}

/** A Lambda context whose invocation ends `remainingMs` from now (what `withInvocation` reads). */
export function lambdaContext(remainingMs: number): Context {
  const deadline = Date.now() + remainingMs;
  return { getRemainingTimeInMillis: () => deadline - Date.now(), awsRequestId: 'test-request', functionName: 'test' } as Context;
}

/** An HTTP API (payload 2.0) event as a handler under test receives it. */
export function httpEvent(body: unknown, extra: Partial<APIGatewayProxyEventV2> = {}): APIGatewayProxyEventV2 {
  return {
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: authorizedRequestContext(),
    ...extra,
  } as APIGatewayProxyEventV2;
}

/** The flow's secrets, changed as a merchant would change them in Secrets Manager (for `runtimeWith`). */
export function changedSecrets(flow: Pick<FlowStack, 'rt'>, change: (secret: MerchantSecret) => MerchantSecret): SecretsLoader {
  const source = (flow.rt.merchants as unknown as { loader: SecretsLoader }).loader;
  const changed = new WeakMap<MerchantSecret, MerchantSecret>();
  const once = (secret: MerchantSecret) => {
    if (!changed.has(secret)) changed.set(secret, change(secret));
    return changed.get(secret)!;
  };
  return { get: async (id) => once(await source.get(id)), refresh: async (id) => once(await source.refresh(id)) };
}
