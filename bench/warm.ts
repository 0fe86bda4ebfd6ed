/**
 * Warm cost, in-process against DynamoDB Local and the sandbox on loopback: create-H5-order, repayment presign
 * (when shared/repayment-contract is there) and the H5 payment notification, driven through their Lambda handlers
 * as test/integration/h5/h5-flow.test.ts does. Reports p50 / p99 latency and the network round trips per
 * invocation (DynamoDB, WeChat, Secrets Manager) beside the minimum each flow needs.
 *
 * Then the same handlers' cold start end to end: a fresh `node` process per sample imports the bundle (SDK bundled
 * and external) and invokes it twice against the same stack (SECRETS_SOURCE=file, so no AWS is needed).
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { Item } from '../shared/store/items';
import { keys as recordKeys } from '../shared/store/keys';
import { buildBundle, planBuilds, ROOT, type BuildPlan, type BuiltBundle } from './build';
import { runProbe, type ProbeResult } from './probe';
import {
  httpEvent,
  h5OrderBody,
  lambdaContext,
  paidH5Order,
  paymentNotification,
  refundNotification,
  seedOrders,
  signedPapayContract,
  uniqueId,
  type BenchStack,
  type Counters,
} from './stack';
import { fmt, markdownTable, median, percentile, progress, silenced, type Check, type SectionReport } from './stats';

type Handler = (event: never, context: never) => Promise<APIGatewayProxyStructuredResultV2>;

interface Flow {
  name: string;
  function: string;
  expectStatus: number;
  /** Minimum round trips per warm invocation, and why. */
  minimum: { dynamo: number; wechat: number; secrets: number; note: string };
  /** Untimed preparation of one invocation's event. */
  prepare: () => Promise<unknown> | unknown;
  handler: Handler;
}

interface Sample {
  ms: number;
  dynamo: number;
  dynamoOps: string;
  dynamoMs: number;
  wechat: number;
  wechatMs: number;
  secrets: number;
}

export interface WarmOptions {
  iterations: number;
  warmup: number;
  /** Fresh-process cold-start probes per bundle (0 to skip). */
  probeRounds: number;
}

/** The order a create-H5-order stored (read back), as a template for seeding unpaid orders. */
export async function storedOrder(stack: BenchStack, outTradeNo: string): Promise<Item> {
  const item = await stack.rt.claims.get<Item>(recordKeys.h5Order(outTradeNo));
  if (!item || item.state !== 'NOTPAY') throw new Error(`create-h5-order stored no NOTPAY order ${outTradeNo}`);
  return item;
}

/** Creates one order through the handler and returns it as stored: the seeding template when warm did not run. */
export async function orderTemplate(stack: BenchStack): Promise<Item> {
  const { handler } = await import('../functions/http/create-h5-order');
  const body = h5OrderBody();
  const res = (await silenced(() => handler(httpEvent(JSON.stringify(body)) as never, lambdaContext('createH5Order')))) as APIGatewayProxyStructuredResultV2;
  if (res.statusCode !== 201) throw new Error(`create-h5-order answered ${res.statusCode}: ${res.body}`);
  return storedOrder(stack, body.out_trade_no);
}

export function repaymentAvailable(): boolean {
  return existsSync(join(ROOT, 'shared/repayment-contract/index.ts')) && existsSync(join(ROOT, 'functions/http/create-repayment-contract.ts'));
}

function repaymentBody() {
  return {
    plan_id: 'PLAN_REPAY_001',
    out_contract_code: uniqueId('RC'),
    repayment_day: 5,
    repayment_amount_limit: '10000',
    real_identity: { identity_type: 'REAL_IDENTITY_TYPE_ID_CARD', identity_id: '11010519491231002X', real_name: '欧阳娜娜' },
    trade_info: { out_trade_no: uniqueId('RT'), deduct_amount: '5000', description: '信贷还款', attach: '首期' },
  };
}

async function flows(stack: BenchStack, orders: () => string[]): Promise<Flow[]> {
  const create = (await import('../functions/http/create-h5-order')).handler as unknown as Handler;
  const notify = (await import('../functions/notify/h5-payment')).handler as unknown as Handler;
  const list: Flow[] = [
    {
      name: 'create H5 order',
      function: 'createH5Order',
      expectStatus: 201,
      minimum: { dynamo: 2, wechat: 1, secrets: 0, note: 'claim (conditional put) + store the answer; one WeChat call' },
      prepare: () => {
        const body = h5OrderBody();
        lastCreated = body.out_trade_no;
        return httpEvent(JSON.stringify(body));
      },
      handler: create,
    },
  ];
  if (repaymentAvailable()) {
    const presign = (await import('../functions/http/create-repayment-contract')).handler as unknown as Handler;
    list.push({
      name: 'repayment presign (with trade_info)',
      function: 'createRepaymentContract',
      expectStatus: 201,
      minimum: {
        dynamo: 2,
        wechat: 1,
        secrets: 0,
        note: 'claim and the first repayment\'s out_trade_no reservation in one TransactWriteItems + store the answer',
      },
      prepare: () => httpEvent(JSON.stringify(repaymentBody())),
      handler: presign,
    });
  }
  const createRefund = (await import('../functions/http/create-refund')).handler as unknown as Handler;
  const notifyRefund = (await import('../functions/notify/refund')).handler as unknown as Handler;
  list.push({
    name: 'refund (H5, APIv3)',
    function: 'createRefund',
    expectStatus: 201,
    minimum: {
      dynamo: 3,
      wechat: 1,
      secrets: 0,
      note: 'read the order (one BatchGetItem for both products) + reserve and create in one TransactWriteItems + store the answer',
    },
    // Untimed: an H5 order paid at the sandbox and recorded paid here.
    prepare: async () => {
      const outTradeNo = await paidH5Order(stack, create);
      return httpEvent(JSON.stringify({ out_trade_no: outTradeNo, out_refund_no: uniqueId('BR'), amount: { refund: 1 } }));
    },
    handler: createRefund,
  });
  list.push({
    name: 'refund notification (REFUND.SUCCESS)',
    function: 'notifyRefund',
    expectStatus: 204,
    minimum: { dynamo: 1, wechat: 0, secrets: 0, note: 'one conditional UpdateItem (state + event id, bound by order and amount); only CLOSED reads first, to give the amount back' },
    prepare: async () => {
      const outTradeNo = await paidH5Order(stack, create);
      const outRefundNo = uniqueId('BN');
      const res = await silenced(() => createRefund(httpEvent(JSON.stringify({ out_trade_no: outTradeNo, out_refund_no: outRefundNo, amount: { refund: 1 } })) as never, lambdaContext('createRefund') as never));
      if (res.statusCode !== 201) throw new Error(`refund for the notification bench answered ${res.statusCode}: ${res.body}`);
      const n = refundNotification(stack, outRefundNo);
      return httpEvent(n.body, n.headers);
    },
    handler: notifyRefund,
  });
  const createDeduction = (await import('../functions/http/create-deduction')).handler as unknown as Handler;
  const createContractOrder = (await import('../functions/http/create-contract-order')).handler as unknown as Handler;
  let contractId: string | undefined;
  list.push({
    name: 'papay deduction (APIv2)',
    function: 'createDeduction',
    expectStatus: 201,
    minimum: {
      dynamo: 2,
      wechat: 1,
      secrets: 0,
      note: 'claim in one TransactWriteItems with its guards (contract signed, order number unused) + store the answer',
    },
    // Untimed: one contract signed through pay-and-sign at the sandbox, charged again on every sample.
    prepare: async () => {
      contractId ??= await signedPapayContract(stack, createContractOrder);
      return httpEvent(JSON.stringify({ contract_id: contractId, out_trade_no: uniqueId('BD'), total_fee: 1, body: '月卡续费' }));
    },
    handler: createDeduction,
  });
  let next = 0;
  list.push({
    name: 'H5 payment notification',
    function: 'notifyH5Payment',
    expectStatus: 204,
    minimum: { dynamo: 1, wechat: 0, secrets: 0, note: 'one conditional UpdateItem (state + event id)' },
    prepare: () => {
      const id = orders()[next++];
      if (id === undefined) throw new Error('warm: ran out of seeded orders');
      const n = paymentNotification(stack, id);
      return httpEvent(n.body, n.headers);
    },
    handler: notify,
  });
  return list;
}

let lastCreated = '';

async function invoke(flow: Flow, counters: Counters): Promise<Sample> {
  const event = await flow.prepare();
  counters.reset();
  const started = process.hrtime.bigint();
  const res = await flow.handler(event as never, lambdaContext(flow.function));
  const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
  if (res.statusCode !== flow.expectStatus) throw new Error(`${flow.name} answered ${res.statusCode}: ${res.body}`);
  return {
    ms: elapsed,
    dynamo: counters.dynamo,
    dynamoOps: counters.dynamoOps.join('+'),
    dynamoMs: counters.dynamoMs,
    wechat: counters.wechat,
    wechatMs: counters.wechatMs,
    secrets: counters.secrets,
  };
}

function counts(values: number[]): string {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return lo === hi ? String(lo) : `${median(values)} (${lo}–${hi})`;
}

function mostCommon(values: string[]): string {
  const tally = new Map<string, number>();
  for (const v of values) tally.set(v, (tally.get(v) ?? 0) + 1);
  return [...tally.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '';
}

export async function runWarm(stack: BenchStack, options: WarmOptions): Promise<SectionReport & { template: Item }> {
  let orders: string[] = [];
  const list = await flows(stack, () => orders);
  const checks: Check[] = [];

  // The first invocation of each flow in this fresh runtime (where the secrets get loaded). The first order
  // created is read back as the template for the orders the notifications pay.
  const first = new Map<string, Sample>();
  const samples = new Map<string, Sample[]>(list.map((f) => [f.name, []]));
  let template: Item = {};
  await silenced(async () => {
    for (const flow of list) {
      if (flow.function === 'notifyH5Payment') {
        template = await storedOrder(stack, lastCreated);
        orders = await seedOrders(stack, template, options.iterations + options.warmup + 1, 'W');
      }
      first.set(flow.name, await invoke(flow, stack.counters));
    }
    for (let i = 0; i < options.warmup; i++) for (const flow of list) await invoke(flow, stack.counters);
    // Interleaved, so a noisy moment hits every flow alike.
    for (let i = 0; i < options.iterations; i++) {
      for (let k = 0; k < list.length; k++) {
        const flow = list[(i + k) % list.length] as Flow;
        (samples.get(flow.name) as Sample[]).push(await invoke(flow, stack.counters));
      }
    }
  });

  const rows: string[][] = [];
  const data: Record<string, unknown> = {};
  for (const flow of list) {
    const s = samples.get(flow.name) as Sample[];
    const f = first.get(flow.name) as Sample;
    const own = s.map((x) => x.ms - x.dynamoMs - x.wechatMs);
    const dynamo = s.map((x) => x.dynamo);
    const wechat = s.map((x) => x.wechat);
    const secrets = s.map((x) => x.secrets);
    rows.push([
      flow.name,
      fmt(median(s.map((x) => x.ms)), 2),
      fmt(percentile(s.map((x) => x.ms), 99), 2),
      `${counts(dynamo)} (${mostCommon(s.map((x) => x.dynamoOps))})`,
      String(flow.minimum.dynamo),
      counts(wechat),
      String(flow.minimum.wechat),
      counts(secrets),
      String(flow.minimum.secrets),
      `${f.secrets} / ${f.dynamo} / ${f.wechat}`,
      fmt(median(s.map((x) => x.dynamoMs)), 2),
      fmt(median(s.map((x) => x.wechatMs)), 2),
      fmt(median(own), 2),
    ]);
    data[flow.name] = {
      p50Ms: median(s.map((x) => x.ms)),
      p99Ms: percentile(s.map((x) => x.ms), 99),
      dynamo: median(dynamo),
      dynamoOps: mostCommon(s.map((x) => x.dynamoOps)),
      wechat: median(wechat),
      secrets: median(secrets),
      minimum: flow.minimum,
      first: f,
      inDynamoP50Ms: median(s.map((x) => x.dynamoMs)),
      inWechatP50Ms: median(s.map((x) => x.wechatMs)),
      ownP50Ms: median(own),
    };
    const worstDynamo = Math.max(...dynamo);
    const worstWechat = Math.max(...wechat);
    const worstSecrets = Math.max(...secrets);
    checks.push({ name: `warm ${flow.name}: Secrets Manager loads per warm invocation`, value: String(worstSecrets), goal: `= ${flow.minimum.secrets}`, ok: worstSecrets <= flow.minimum.secrets });
    checks.push({
      name: `warm ${flow.name}: DynamoDB / WeChat round trips`,
      value: `${worstDynamo} / ${worstWechat}`,
      goal: `= ${flow.minimum.dynamo} / ${flow.minimum.wechat}`,
      ok: worstDynamo <= flow.minimum.dynamo && worstWechat <= flow.minimum.wechat,
    });
  }

  const header = ['flow', 'p50 ms', 'p99 ms', 'DynamoDB', 'min', 'WeChat', 'min', 'Secrets', 'min', '1st call S/D/W', 'in DynamoDB p50', 'in WeChat p50', 'rest p50'];
  const lines = [
    `### Warm invocations, in-process (DynamoDB Local + sandbox on loopback), ${options.iterations} interleaved invocations per flow after ${options.warmup} warm-up`,
    '',
    markdownTable(header, rows),
    '',
    'Round trips are per invocation (median, range if it varied); "1st call S/D/W" = Secrets / DynamoDB / WeChat round trips of the first invocation in a fresh runtime (the notification shares the direct merchant\'s secret that create H5 order loaded into this one runtime; as its own Lambda its first call loads it once). "in DynamoDB" / "in WeChat" = time inside those calls (the sandbox runs in this process, so its RSA signing is in "in WeChat"); "rest" = everything else (our code, validation, signing, verification, logging).',
    '',
    ...list.map((f) => `- ${f.name}: minimum ${f.minimum.dynamo} DynamoDB / ${f.minimum.wechat} WeChat / ${f.minimum.secrets} Secrets — ${f.minimum.note}`),
  ];
  if (!repaymentAvailable()) lines.push('- repayment presign: skipped (shared/repayment-contract is not there yet)');

  if (options.probeRounds > 0) {
    const probe = await runFreshProcessProbes(stack, template, options.probeRounds);
    lines.push('', probe.markdown);
    data.freshProcess = probe.data;
  }
  return { section: 'warm', markdown: lines.join('\n'), checks, data, template };
}

/** Cold start end to end: import + first + second invocation in a fresh process, against the running stack. */
async function runFreshProcessProbes(stack: BenchStack, template: Item, rounds: number): Promise<{ markdown: string; data: unknown }> {
  const plan = planBuilds();
  try {
    return await probeFreshProcesses(plan, stack, template, rounds);
  } finally {
    rmSync(plan.dir, { recursive: true, force: true });
  }
}

async function probeFreshProcesses(plan: BuildPlan, stack: BenchStack, template: Item, rounds: number): Promise<{ markdown: string; data: unknown }> {
  const names = ['createH5Order', 'notifyH5Payment'].filter((n) => n in plan.functions);
  const bundles: BuiltBundle[] = [];
  for (const name of names) for (const variant of ['bundled', 'external'] as const) bundles.push(await buildBundle(plan, name, variant));
  const ids = await seedOrders(stack, template, rounds * bundles.length * 2, 'P');
  let next = 0;
  const events = (name: string) =>
    [0, 1].map(() => {
      if (name === 'createH5Order') return httpEvent(JSON.stringify(h5OrderBody()));
      const n = paymentNotification(stack, ids[next++] as string, Date.now()); // a fresh process keeps the wall clock
      return httpEvent(n.body, n.headers);
    });
  const env = { ...stack.env, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' };
  const results = new Map<BuiltBundle, ProbeResult[]>(bundles.map((b) => [b, []]));
  progress(`warm: fresh-process cold starts, ${rounds} rounds × ${bundles.length} bundles`);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < bundles.length; k++) {
      const bundle = bundles[(round + k) % bundles.length] as BuiltBundle;
      const result = await runProbe(bundle.file, { env, invoke: { functionName: bundle.name, events: events(bundle.name) } });
      const expected = bundle.name === 'createH5Order' ? 201 : 204;
      const bad = result.invocations.find((i) => i.outcome !== expected);
      if (bad) throw new Error(`fresh-process ${bundle.name} answered ${bad.outcome}`);
      (results.get(bundle) as ProbeResult[]).push(result);
    }
  }
  const rows = bundles.map((b) => {
    const r = results.get(b) as ProbeResult[];
    const imp = median(r.map((x) => x.importMs));
    const firstMs = median(r.map((x) => x.invocations[0]?.ms ?? Number.NaN));
    const second = median(r.map((x) => x.invocations[1]?.ms ?? Number.NaN));
    return [`${b.name} (SDK ${b.variant})`, fmt(imp), fmt(firstMs), fmt(second), fmt(imp + firstMs)];
  });
  const data = Object.fromEntries(
    bundles.map((b) => [`${b.name}/${b.variant}`, (results.get(b) as ProbeResult[]).map((x) => ({ importMs: x.importMs, invocations: x.invocations.map((i) => i.ms) }))]),
  );
  const markdown = [
    `### Cold start end to end in a fresh process (import, then two invocations against the same stack), median of ${rounds} interleaved rounds`,
    '',
    markdownTable(['bundle', 'import ms', '1st invocation ms', '2nd invocation ms', 'import + 1st ms'], rows),
    '',
    'The 1st invocation creates the runtime (config, DynamoDB client, secrets from SECRETS_SOURCE=file, key parsing), opens the connections and loads what the SDK loads lazily; on AWS it would also pay a Secrets Manager call and TLS handshakes, which loopback does not have.',
  ].join('\n');
  return { markdown, data };
}
