/**
 * Shared machinery of the adversarial suite (test/adversarial/*.test.ts).
 *
 * Every file drives the real handlers in-process against DynamoDB Local and a PRIVATE sandbox (faults switched on
 * here never leak into other files), with its own runtime and a PRIVATE table on the run's DynamoDB Local: a Scan
 * of that table is "every item our flows wrote", so before/after snapshots see any change, not just the record's.
 *
 * Routes are tables: adding a notify route or a create route is one entry in V3_ROUTES / V2_ROUTES / CREATE_ROUTES.
 *
 * Handler logs are captured (for the leak scans) and not printed; ADV_LOGS=1 prints them too.
 */
import { randomBytes } from 'node:crypto';
import { ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { vi } from 'vitest';
import { handler as createContractOrderHandler } from '../../functions/http/create-contract-order';
import { handler as createH5Handler } from '../../functions/http/create-h5-order';
import { handler as createRepaymentContractHandler } from '../../functions/http/create-repayment-contract';
import { handler as contractOrderContractHandler } from '../../functions/notify/contract-order-contract';
import { handler as contractOrderPaymentHandler } from '../../functions/notify/contract-order-payment';
import { handler as h5PaymentHandler } from '../../functions/notify/h5-payment';
import { handler as repaymentHandler } from '../../functions/notify/repayment';
import { handler as repaymentContractHandler } from '../../functions/notify/repayment-contract';
import { ensureTable, localDynamoDbClient } from '../../scripts/local/dynamodb';
import type { Runtime } from '../../shared/runtime/container';
import { keys as storeKeys } from '../../shared/store/keys';
import type { RunningSandbox } from '../../sandbox/index';
import { localStack, type LocalStackContext } from '../support/env';
import { startFlowStack, type FlowClock, type WechatCall } from '../support/flow';
import { authorizedRequestContext } from '../support/authorized';
import type { ServedHandlers } from '../support/lambda-http';
import { buildNotification, paidTransaction, v2PaymentFields, type BuiltNotification, type NotificationKeys } from '../support/notifications';

export type Json = Record<string, any>;
export type Result = APIGatewayProxyStructuredResultV2;
export type Handler = (event: APIGatewayProxyEventV2) => Promise<Result>;

/** The one answer WeChat takes as "received" for v2 (docs/wechatpay.md, *APIv2*). */
export const V2_SUCCESS_XML = '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>';
export const V2_FAIL_MARK = '<return_code><![CDATA[FAIL]]></return_code>';

/** Plain-text identities used by the repayment flows: the scan test proves none is logged or stored. */
export const PEOPLE = [
  { name: '司马相如', mask: '***如', id: '11010519491231002X' },
  { name: '诸葛孔明亮', mask: '***亮', id: '44052419800101003x' },
] as const;

export const uniq = (prefix: string) => `${prefix}${Date.now().toString(36)}${randomBytes(5).toString('hex')}`.toUpperCase();

export function httpEvent(body: string, headers: Record<string, string> = { 'content-type': 'application/json' }, base64 = false, extra: Partial<APIGatewayProxyEventV2> = {}): APIGatewayProxyEventV2 {
  return {
    headers,
    body: base64 ? Buffer.from(body, 'utf8').toString('base64') : body,
    isBase64Encoded: base64,
    requestContext: authorizedRequestContext(),
    ...extra,
  } as APIGatewayProxyEventV2;
}

export const parse = (result: Result): Json => JSON.parse(result.body || '{}') as Json;
export const header = (result: Result, name: string): string | undefined => {
  const headers = (result.headers ?? {}) as Record<string, unknown>;
  const found = Object.entries(headers).find(([k]) => k.toLowerCase() === name.toLowerCase());
  return found === undefined ? undefined : String(found[1]);
};

// ---------------------------------------------------------------------------------------------------------------
// Output capture (logs), for the leak scan
// ---------------------------------------------------------------------------------------------------------------

export interface CapturedOutput {
  lines: string[];
  restore(): void;
}

/**
 * Captures everything written to console.* and to process.stdout / process.stderr (Powertools writes to the
 * streams through its own Console, not through console.log). Swallowed unless ADV_LOGS=1.
 */
export function captureOutput(): CapturedOutput {
  const lines: string[] = [];
  const passThrough = process.env.ADV_LOGS === '1';
  const text = (args: unknown[]) => args.map((a) => (typeof a === 'string' ? a : a instanceof Error ? `${a.name}: ${a.message}` : safeJson(a))).join(' ');
  const spies: { mockRestore(): void }[] = [];
  for (const method of ['log', 'error', 'warn', 'info', 'debug'] as const) {
    const original = console[method].bind(console);
    spies.push(
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        lines.push(text(args));
        if (passThrough) original(...args);
      }),
    );
  }
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write.bind(stream);
    spies.push(
      vi.spyOn(stream, 'write').mockImplementation(((chunk: unknown, ...rest: unknown[]) => {
        lines.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
        if (passThrough) return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
        const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
        callback?.();
        return true;
      }) as typeof stream.write),
    );
  }
  return { lines, restore: () => spies.forEach((s) => s.mockRestore()) };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v: unknown) => (v instanceof Set ? [...v] : typeof v === 'bigint' ? v.toString() : v));
  } catch {
    return String(value);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The harness: private sandbox, private table, served notify routes, a runtime with a counting fetch and a clock
// ---------------------------------------------------------------------------------------------------------------

export type { WechatCall } from '../support/flow';
export type Clock = FlowClock;

export interface Harness {
  stack: LocalStackContext;
  sandbox: RunningSandbox;
  served: ServedHandlers;
  rt: Runtime;
  dynamo: DynamoDBClient;
  tableName: string;
  clock: Clock;
  /** Every request our runtime sent towards WeChat (main or backup origin). */
  calls: WechatCall[];
  /** Successful forward transitions (UpdateItem … ADD #events) per pk: "state changes". */
  transitions: Map<string, number>;
  /** Successful writes of any kind (Put/Update/Delete/TransactWrite) per pk. */
  writes: Map<string, number>;
  /** Runs instead of the real fetch when it returns a Response or throws (fault injection). */
  intercept?: ((url: URL, init: RequestInit | undefined) => Promise<Response> | undefined) | undefined;
  direct: { mchid: string; appid: string; apiV2Key: string; planId: number; keys: NotificationKeys };
  partner: { mchid: string; appid: string; planId: string; keys: NotificationKeys };
  /** A runtime over the same table, sandbox and counters, with env overrides (e.g. WECHATPAY_TIMEOUT_MS). */
  runtimeWith(env: Record<string, string>): Runtime;
  use(rt: Runtime): void;
  close(): Promise<void>;
}

export const NOTIFY_ROUTES: Record<string, Handler> = {
  'POST /notify/h5-payment': h5PaymentHandler as Handler,
  'POST /notify/contract-order/payment': contractOrderPaymentHandler as Handler,
  'POST /notify/contract-order/contract': contractOrderContractHandler as Handler,
  'POST /notify/repayment-contract': repaymentContractHandler as Handler,
  'POST /notify/repayment': repaymentHandler as Handler,
};

export interface HarnessOptions {
  /** Sandbox notification re-send delays × this (default 0.001). */
  timeScale?: number;
  env?: Record<string, string>;
  /** DynamoDB endpoint (default: the run's DynamoDB Local). */
  dynamodbEndpoint?: string;
  tableName?: string;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const stack = localStack();
  const endpoint = options.dynamodbEndpoint ?? stack.dynamodbEndpoint;
  const tableName = options.tableName ?? `adv-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const dynamo = localDynamoDbClient(endpoint);
  await ensureTable(dynamo, tableName);
  const transitions = new Map<string, number>();
  const writes = new Map<string, number>();
  let intercept: Harness['intercept'];
  // The shared flow harness (test/support/flow.ts) on a table of this file's own, counting every write.
  const flow = await startFlowStack({
    routes: NOTIFY_ROUTES as never,
    tableName,
    dynamodbEndpoint: endpoint,
    env: { H5_QUERY_AFTER_SECONDS: '60', ...options.env },
    ...(options.timeScale !== undefined ? { timeScale: options.timeScale } : {}),
    intercept: (url, init) => intercept?.(url, init),
    onRuntime: (rt) => countWrites(rt, transitions, writes),
  });

  const directSecret = stack.secrets[stack.secretIds.direct]!;
  const partnerSecret = stack.secrets[stack.secretIds.serviceProvider]!;
  const merchantOf = (mchid: string) => stack.sandboxConfig.merchants.find((m: { mchid: string }) => m.mchid === mchid) as { planIds: string[] };

  const h: Harness = {
    stack,
    sandbox: flow.sandbox,
    served: flow.served,
    get rt() {
      return flow.rt;
    },
    dynamo,
    tableName,
    clock: flow.clock,
    calls: flow.requests,
    transitions,
    writes,
    get intercept() {
      return intercept;
    },
    set intercept(next) {
      intercept = next;
    },
    direct: {
      mchid: directSecret.mchid,
      appid: directSecret.appid,
      apiV2Key: directSecret.apiV2Key!,
      planId: Number(merchantOf(directSecret.mchid).planIds[0]),
      keys: flow.notificationKeys('direct'),
    },
    partner: {
      mchid: partnerSecret.mchid,
      appid: partnerSecret.appid,
      planId: String(merchantOf(partnerSecret.mchid).planIds[0]),
      keys: flow.notificationKeys('partner'),
    },
    runtimeWith: flow.runtimeWith,
    use: flow.use,
    close: async () => {
      await flow.close();
      dynamo.destroy();
    },
  };
  return h;
}

/** Counts successful writes per pk, and successful forward transitions (the `ADD #events` update) per pk. */
function countWrites(rt: Runtime, transitions: Map<string, number>, writes: Map<string, number>): void {
  const bump = (map: Map<string, number>, pk: string | undefined) => {
    if (pk !== undefined) map.set(pk, (map.get(pk) ?? 0) + 1);
  };
  rt.dynamo.middlewareStack.add(
    (next, context) => async (args) => {
      const out = await next(args);
      const input = args.input as Json;
      const command = context.commandName;
      if (command === 'UpdateItemCommand' || command === 'DeleteItemCommand') {
        const pk = input.Key?.pk?.S as string | undefined;
        bump(writes, pk);
        if (command === 'UpdateItemCommand' && String(input.UpdateExpression ?? '').includes('ADD #events')) bump(transitions, pk);
      } else if (command === 'PutItemCommand') {
        bump(writes, input.Item?.pk?.S as string | undefined);
      } else if (command === 'TransactWriteItemsCommand' || command === 'BatchWriteItemCommand') {
        bump(writes, `(${command})`);
      }
      return out;
    },
    { step: 'initialize', name: 'adversarialWriteCounter' },
  );
}

export const total = (map: Map<string, number>) => [...map.values()].reduce((a, b) => a + b, 0);

/** Every item of the harness's private table, as sorted JSON lines (Sets sorted): equal snapshots = no change. */
export async function snapshot(h: Pick<Harness, 'dynamo' | 'tableName'>, pkContains?: readonly string[]): Promise<string[]> {
  const items: string[] = [];
  let start: Record<string, any> | undefined;
  do {
    const filter = pkContains && pkContains.length > 0;
    const out = await h.dynamo.send(
      new ScanCommand({
        TableName: h.tableName,
        ConsistentRead: true,
        ...(filter
          ? {
              FilterExpression: pkContains.map((_, i) => `contains(pk, :k${i})`).join(' OR '),
              ExpressionAttributeValues: Object.fromEntries(pkContains.map((k, i) => [`:k${i}`, { S: k }])),
            }
          : {}),
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    for (const item of out.Items ?? []) items.push(stableJson(unmarshall(item)));
    start = out.LastEvaluatedKey;
  } while (start);
  return items.sort();
}

export async function tableItems(h: Pick<Harness, 'dynamo' | 'tableName'>): Promise<Json[]> {
  return (await snapshot(h)).map((line) => JSON.parse(line) as Json);
}

export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof Set) return [...v].map(String).sort();
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Json).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
}

export async function act(h: Harness, body: Json): Promise<{ status: number; json: Json }> {
  const response = await fetch(`${h.sandbox.url}/sandbox/act`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Json };
}

export async function eventually<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Request bodies and notification payloads, per product
// ---------------------------------------------------------------------------------------------------------------

let serial = BigInt(Date.now()) * 1000n + BigInt(randomBytes(2).readUInt16BE(0));
export const nextRequestSerial = () => (serial += 1n).toString();

export function h5Body(overrides: Json = {}): Json {
  return {
    out_trade_no: uniq('ADV'),
    description: 'Image形象店-深圳腾大-QQ公仔',
    amount: { total: 100, currency: 'CNY' },
    scene_info: { payer_client_ip: '14.23.150.211', h5_info: { type: 'iOS' } },
    ...overrides,
  };
}

export function contractOrderBody(h: Pick<Harness, 'direct'>, overrides: Json = {}): Json {
  return {
    out_trade_no: uniq('PAP'),
    body: 'Ipad mini 16G 白色',
    attach: '深圳分店',
    total_fee: 888,
    spbill_create_ip: '123.12.12.123',
    trade_type: 'APP',
    plan_id: h.direct.planId,
    contract_code: uniq('C'),
    request_serial: nextRequestSerial(),
    contract_display_account: '微信代扣',
    ...overrides,
  };
}

export function presignBody(h: Pick<Harness, 'partner'>, options: { person?: (typeof PEOPLE)[number]; trade?: boolean; over?: Json } = {}): Json {
  const person = options.person ?? PEOPLE[0];
  return {
    plan_id: h.partner.planId,
    out_contract_code: uniq('RC'),
    repayment_day: 5,
    repayment_amount_limit: '10000',
    real_identity: { identity_type: 'REAL_IDENTITY_TYPE_ID_CARD', identity_id: person.id, real_name: person.name },
    ...((options.trade ?? true) ? { trade_info: { out_trade_no: uniq('RT'), deduct_amount: '5000', description: '信贷还款', attach: '首期' } } : {}),
    ...options.over,
  };
}

export { paidTransaction, v2PaymentFields, v2Sign, v2Xml, v2XmlRaw } from '../support/notifications';

export function contractFields(h: Pick<Harness, 'direct'>, order: Json, change: 'ADD' | 'DELETE' = 'ADD', overrides: Record<string, string> = {}): Record<string, string> {
  return {
    return_code: 'SUCCESS',
    result_code: 'SUCCESS',
    mch_id: h.direct.mchid,
    contract_code: String(order.contract_code),
    plan_id: String(order.plan_id),
    openid: 'onqOjjmM1tad-3ROpncN-yUfa6ua',
    change_type: change,
    operate_time: '2026-01-01 10:00:00',
    contract_id: `Wx${randomBytes(12).toString('hex')}`,
    contract_expired_time: '2031-01-01 10:00:00',
    request_serial: String(order.request_serial),
    ...(change === 'DELETE' ? { contract_termination_mode: '2' } : {}),
    ...overrides,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Route tables
// ---------------------------------------------------------------------------------------------------------------

/** A record that a genuine notification of the route would change. */
export interface NotifyTarget {
  /** pk fragments of every item the route may touch for this record. */
  watch: string[];
  /** Forward transitions one genuine delivery makes, per pk. */
  transitions: Record<string, number>;
  /** The state the genuine notification leads to, read from the table. */
  state(): Promise<unknown>;
  expectedState: unknown;
  /** The notification ids recorded on the main record. */
  eventIds(): Promise<string[]>;
}

export interface V3Target extends NotifyTarget {
  resource: Json;
}

export interface V3Route {
  name: string;
  handler: Handler;
  eventType: string;
  associatedData: string;
  originalType: string;
  keys(h: Harness): NotificationKeys;
  /** Creates the record through the real create handler (one WeChat call to the private sandbox). */
  prepare(h: Harness): Promise<V3Target>;
}

async function created(handler: Handler, body: Json): Promise<Json> {
  const res = await handler(httpEvent(JSON.stringify(body)));
  if (res.statusCode !== 201) throw new Error(`create answered ${res.statusCode}: ${res.body}`);
  return parse(res);
}

const stateOf = (h: Harness, key: { pk: string; sk: string }) => async () => (await h.rt.claims.get<Json>(key))?.state;
const eventIdsOf = (h: Harness, key: { pk: string; sk: string }) => async () =>
  [...(((await h.rt.claims.get<Json>(key))?.event_ids as Set<string> | undefined) ?? [])].map(String);

export const V3_ROUTES: V3Route[] = [
  {
    name: 'h5-payment',
    handler: h5PaymentHandler as Handler,
    eventType: 'TRANSACTION.SUCCESS',
    associatedData: 'transaction',
    originalType: 'transaction',
    keys: (h) => h.direct.keys,
    async prepare(h) {
      const body = h5Body();
      await created(createH5Handler as Handler, body);
      const key = storeKeys.h5Order(body.out_trade_no);
      return {
        resource: paidTransaction(h.direct, body.out_trade_no),
        watch: [body.out_trade_no],
        transitions: { [key.pk]: 1 },
        state: stateOf(h, key),
        expectedState: 'SUCCESS',
        eventIds: eventIdsOf(h, key),
      };
    },
  },
  {
    name: 'repayment-contract',
    handler: repaymentContractHandler as Handler,
    eventType: 'CREDIT_REPAYMENT.SIGN_CONTRACT',
    associatedData: '',
    originalType: 'credit_repayment',
    keys: (h) => h.partner.keys,
    async prepare(h) {
      const body = presignBody(h, { trade: false });
      await created(createRepaymentContractHandler as Handler, body);
      const code = body.out_contract_code as string;
      const contractId = uniq('CID');
      const key = storeKeys.repaymentContract(code);
      return {
        resource: {
          mchid: h.partner.mchid,
          appid: h.partner.appid,
          plan_id: h.partner.planId,
          out_contract_code: code,
          contract_id: contractId,
          contract_state: 'CONTRACT_STATE_EFFECTIVE',
          openid: 'o-adversarial-openid',
          contract_signed_time: '2026-11-23T10:00:00+08:00',
        },
        watch: [code, contractId],
        transitions: { [key.pk]: 1 },
        state: stateOf(h, key),
        expectedState: 'SIGNED',
        eventIds: eventIdsOf(h, key),
      };
    },
  },
  {
    name: 'repayment',
    handler: repaymentHandler as Handler,
    eventType: 'CREDIT_REPAYMENT.DEDUCTION_PAY',
    associatedData: '',
    originalType: 'payscore',
    keys: (h) => h.partner.keys,
    async prepare(h) {
      const body = presignBody(h, { trade: true });
      await created(createRepaymentContractHandler as Handler, body);
      const code = body.out_contract_code as string;
      const outTradeNo = body.trade_info.out_trade_no as string;
      const contractId = uniq('CID');
      const key = storeKeys.repayment(outTradeNo);
      return {
        resource: {
          mchid: h.partner.mchid,
          out_trade_no: outTradeNo,
          out_contract_code: code,
          contract_id: contractId,
          order_state: 'DEDUCT_ORDER_STATE_PAY_SUCCESS',
          deduct_amount: '5000',
          pay_success_amount: '5000',
          transaction_id: `4200${randomBytes(10).toString('hex')}`,
          success_time: '2026-11-23T10:00:00+08:00',
        },
        watch: [code, outTradeNo, contractId],
        // The paid first repayment also proves the signing: the contract moves once too.
        transitions: { [key.pk]: 1, [storeKeys.repaymentContract(code).pk]: 1 },
        state: stateOf(h, key),
        expectedState: 'PAY_SUCCESS',
        eventIds: eventIdsOf(h, key),
      };
    },
  },
];

export function v3Notification(h: Harness, route: V3Route, target: V3Target, options: { timestamp?: number; id?: string } = {}): BuiltNotification {
  return buildNotification(route.keys(h), {
    eventType: route.eventType,
    resource: target.resource,
    associatedData: route.associatedData,
    originalType: route.originalType,
    ...options,
  });
}

export interface V2Target extends NotifyTarget {
  fields: Record<string, string>;
  /** The business fields a notification of this route cannot do without. */
  required: string[];
}

export interface V2Route {
  name: string;
  handler: Handler;
  prepare(h: Harness): Promise<V2Target>;
}

export const V2_ROUTES: V2Route[] = [
  {
    name: 'contract-order-payment',
    handler: contractOrderPaymentHandler as Handler,
    async prepare(h) {
      const body = contractOrderBody(h);
      await created(createContractOrderHandler as Handler, body);
      const key = storeKeys.contractOrder(body.out_trade_no);
      return {
        fields: v2PaymentFields(h.direct, body),
        required: ['out_trade_no', 'total_fee', 'mch_id', 'appid', 'result_code', 'transaction_id'],
        watch: [body.out_trade_no, body.contract_code],
        transitions: { [key.pk]: 1 },
        state: stateOf(h, key),
        expectedState: 'SUCCESS',
        eventIds: eventIdsOf(h, key),
      };
    },
  },
  {
    name: 'contract-order-contract',
    handler: contractOrderContractHandler as Handler,
    async prepare(h) {
      const body = contractOrderBody(h);
      await created(createContractOrderHandler as Handler, body);
      const key = storeKeys.contractCode(body.contract_code);
      return {
        fields: contractFields(h, body, 'ADD'),
        required: ['contract_code', 'plan_id', 'mch_id', 'change_type', 'contract_id'],
        watch: [body.out_trade_no, body.contract_code],
        transitions: { [key.pk]: 1 },
        state: stateOf(h, key),
        expectedState: 'SIGNED',
        eventIds: eventIdsOf(h, key),
      };
    },
  },
];

export const v2Event = (xml: string, base64 = false) => httpEvent(xml, { 'content-type': 'text/xml' }, base64);

/** The create routes and a fresh valid body for each (fresh business keys every call). */
export interface CreateRoute {
  name: string;
  handler: Handler;
  /** The WeChat path a create makes (counted to prove "one call"). */
  wechatPath: string;
  body(h: Harness): Json;
  /** Top-level fields the schema knows. */
  schemaKeys: string[];
  /** Fields the service owns: sending one is refused by name. */
  ownedKeys: string[];
  /** The record (table key) a create makes. */
  recordKey(body: Json): { pk: string; sk: string };
  /** What our stored record says a created (usable) answer looks like. */
  createdField: string;
  /** The schema silently drops `__proto__`, `constructor` and `prototype` (valibot objectWithRest). */
  dropsGuardedKeys?: boolean;
  /** The same business key with different content (the i-th variant), and the code that refuses it. */
  vary(body: Json, i: number): Json;
  conflictCode: string;
}

export const CREATE_ROUTES: CreateRoute[] = [
  {
    name: 'POST /h5-orders',
    handler: createH5Handler as Handler,
    wechatPath: '/v3/pay/transactions/h5',
    body: () => h5Body(),
    schemaKeys: ['appid', 'mchid', 'notify_url', 'description', 'out_trade_no', 'time_expire', 'attach', 'goods_tag', 'support_fapiao', 'amount', 'detail', 'scene_info', 'settle_info'],
    ownedKeys: ['mchid', 'notify_url'],
    recordKey: (b) => storeKeys.h5Order(b.out_trade_no),
    createdField: 'h5_url',
    vary: (b, i) => ({ ...b, amount: { ...b.amount, total: 100 + i } }),
    conflictCode: 'OUT_TRADE_NO_USED',
  },
  {
    name: 'POST /contract-orders',
    handler: createContractOrderHandler as Handler,
    wechatPath: '/pay/contractorder',
    body: (h) => contractOrderBody(h),
    schemaKeys: [
      'appid', 'mch_id', 'contract_mchid', 'contract_appid', 'nonce_str', 'sign', 'sign_type', 'notify_url', 'contract_notify_url',
      'out_trade_no', 'device_info', 'body', 'detail', 'attach', 'total_fee', 'spbill_create_ip', 'time_start', 'time_expire',
      'goods_tag', 'trade_type', 'product_id', 'limit_pay', 'openid', 'plan_id', 'contract_code', 'request_serial', 'contract_display_account',
    ],
    ownedKeys: ['appid', 'mch_id', 'contract_mchid', 'contract_appid', 'nonce_str', 'sign', 'sign_type', 'notify_url', 'contract_notify_url'],
    recordKey: (b) => storeKeys.contractOrder(b.out_trade_no),
    createdField: 'prepay_id',
    dropsGuardedKeys: true,
    vary: (b, i) => ({ ...b, total_fee: 888 + i }),
    conflictCode: 'OUT_TRADE_NO_USED',
  },
  {
    name: 'POST /repayment-contracts',
    handler: createRepaymentContractHandler as Handler,
    wechatPath: '/v3/credit-repayment/partner/contracts/h5-presign',
    body: (h) => presignBody(h, { trade: true }),
    schemaKeys: ['appid', 'plan_id', 'out_contract_code', 'display_name', 'contract_notify_url', 'repayment_day', 'repayment_amount_limit', 'sub_mchid', 'sub_appid', 'real_identity', 'trade_info', 'jump_info'],
    ownedKeys: ['contract_notify_url'],
    recordKey: (b) => storeKeys.repaymentContract(b.out_contract_code),
    createdField: 'redirect_url',
    vary: (b, i) => ({ ...b, repayment_amount_limit: String(10_000 + i) }),
    conflictCode: 'CONTRACT_CODE_USED',
  },
];

// ---------------------------------------------------------------------------------------------------------------
// Secrets to look for
// ---------------------------------------------------------------------------------------------------------------

function pemLines(pem: string): string[] {
  return pem
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('-----'));
}

/** [label, needle] pairs: private key PEM lines, API keys, the JWT private key, the people's names and ID numbers. */
export function secretNeedles(stack: LocalStackContext, extra: [string, string][] = []): [string, string][] {
  const needles: [string, string][] = [];
  for (const [id, secret] of Object.entries(stack.secrets)) {
    pemLines(secret.merchantPrivateKey).forEach((line, i) => needles.push([`${id} merchantPrivateKey line ${i + 1}`, line]));
    needles.push([`${id} apiV3Key`, secret.apiV3Key]);
    if (secret.apiV2Key) needles.push([`${id} apiV2Key`, secret.apiV2Key]);
    for (const [kid, key] of Object.entries(secret.fingerprintKeys)) needles.push([`${id} fingerprintKeys.${kid}`, key]);
  }
  pemLines(stack.jwt.privateKeyPem).forEach((line, i) => needles.push([`JWT private key line ${i + 1}`, line]));
  for (const person of PEOPLE) {
    needles.push([`real name ${person.mask}`, person.name]);
    for (const id of new Set([person.id, person.id.toUpperCase(), person.id.toLowerCase()])) needles.push(['ID number', id]);
    needles.push(['ID number (17 digits)', person.id.slice(0, 17)]);
  }
  return [...needles, ...extra];
}

/** The Authorization values our runtime sent to WeChat, and their signatures alone. */
export function authorizationNeedles(calls: WechatCall[]): [string, string][] {
  const needles: [string, string][] = [];
  for (const call of calls) {
    if (!call.authorization) continue;
    needles.push(['Authorization header', call.authorization]);
    const signature = /signature="([^"]+)"/.exec(call.authorization)?.[1];
    if (signature) needles.push(['Authorization signature', signature]);
  }
  return needles;
}

/**
 * The harness's whole trace — every captured log line and every item of its table — as searchable text, and what
 * of the secrets, the people and the Authorization values sent turns up in it (nothing, when all is well).
 */
export async function traceOf(h: Pick<Harness, 'dynamo' | 'tableName'>, output: CapturedOutput): Promise<{ lines: string[]; items: string[] }> {
  return { lines: output.lines, items: (await tableItems(h)).map((i) => JSON.stringify(i)) };
}

export async function leaksIn(h: Pick<Harness, 'dynamo' | 'tableName' | 'stack' | 'calls'>, output: CapturedOutput): Promise<string[]> {
  const { lines, items } = await traceOf(h, output);
  return findLeaks([...lines, ...items], [...secretNeedles(h.stack), ...authorizationNeedles(h.calls)]);
}

export function findLeaks(haystacks: readonly string[], needles: readonly [string, string][]): string[] {
  const found: string[] = [];
  for (const [label, needle] of needles) {
    if (needle === "") continue;
    const hit = haystacks.findIndex((h) => h.includes(needle));
    if (hit !== -1) found.push(`${label} in: ${haystacks[hit]!.slice(0, 160)}`);
  }
  return found;
}
