/**
 * WeChat misbehaving, through the private sandbox's fault switches (sandbox/faults.ts), for every create route:
 *
 * - 5xx until the retries are spent → 503 + Retry-After, nothing stored as created; the same request later succeeds;
 * - every attempt times out (WECHATPAY_TIMEOUT_MS low, `timeout` with a short hang) → 503, nothing created; later OK;
 *   WeChat acting and then hanging (`timeoutMode: 'after'`) → the identical re-send gets the order WeChat made;
 * - the main domain refusing connections → the request reaches the backup domain and succeeds;
 * - a WECHATPAY/SIGNTEST/ probe on every answer (v3), or a v2 answer whose sign does not verify → never a success:
 *   503, nothing stored as created;
 * - a probe-signed notification delivery → refused, and WeChat's correct re-send is applied.
 *
 * DynamoDB Local stopping mid-run is in dynamodb-outage.test.ts (it needs its own DynamoDB Local).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { keys as storeKeys } from '../../shared/store/keys';
import {
  CREATE_ROUTES,
  act,
  captureOutput,
  eventually,
  h5Body,
  header,
  httpEvent,
  leaksIn,
  parse,
  startHarness,
  tableItems,
  type CapturedOutput,
  type CreateRoute,
  type Harness,
  type Json,
  type Result,
} from './support';

let h: Harness;
let output: CapturedOutput;
let base: Harness['rt'];

beforeAll(async () => {
  output = captureOutput();
  h = await startHarness();
  base = h.rt;
});

afterAll(async () => {
  await h?.close();
  output?.restore();
});

beforeEach(async () => {
  h.intercept = undefined;
  h.use(base);
  await h.sandbox.faults.set({ systemError: 0, timeout: 0, signTest: 0, notifySignTest: 0, mainDown: false, match: '', timeoutMode: 'before', timeoutHangMs: 30_000 });
});

const wechatCalls = (route: CreateRoute) => h.calls.filter((c) => c.path === route.wechatPath);
const send = (route: CreateRoute, body: Json) => route.handler(httpEvent(JSON.stringify(body)));
const record = (route: CreateRoute, body: Json) => h.rt.claims.get<Json>(route.recordKey(body));

function expectUnavailable(res: Result) {
  expect(res.statusCode, res.body).toBe(503);
  expect(header(res, 'content-type')).toMatch(/^application\/problem\+json/);
  expect(header(res, 'retry-after')).toMatch(/^\d+$/);
  expect(parse(res).code).toBe('WECHATPAY_UNAVAILABLE');
}

/** Nothing a caller could take for a created order: no record, or one that holds no usable answer. */
async function expectNothingCreated(route: CreateRoute, body: Json) {
  const stored = await record(route, body);
  if (stored) {
    expect(stored[route.createdField], JSON.stringify(stored)).toBeUndefined();
    expect(['UNCERTAIN', 'CREATING', 'PRESIGNING'], JSON.stringify(stored)).toContain(stored.state);
  }
}

async function expectCreatedLater(route: CreateRoute, body: Json) {
  const res = await send(route, body);
  expect(res.statusCode, res.body).toBe(201);
  expect(parse(res)[route.createdField]).toEqual(expect.any(String));
  return parse(res);
}

describe.each(CREATE_ROUTES.map((r) => [r.name, r] as const))('%s', (_name, route) => {
  it('WeChat 5xx on every attempt → 503 + Retry-After, nothing created; the same request then succeeds', async () => {
    const body = route.body(h);
    await h.sandbox.faults.set({ systemError: 3, match: route.wechatPath });
    const before = wechatCalls(route).length;
    expectUnavailable(await send(route, body));
    // v3 retries a 5xx within the call (3 attempts); v2 answers SYSTEMERROR in band, which is not retried blindly.
    expect(wechatCalls(route).length - before).toBeGreaterThanOrEqual(route.wechatPath.startsWith('/v3/') ? 3 : 1);
    await expectNothingCreated(route, body);
    await h.sandbox.faults.set({ systemError: 0, match: '' });
    await expectCreatedLater(route, body);
  });

  it('every attempt times out → 503, nothing created (WeChat never acted); the same request then succeeds', async () => {
    h.use(h.runtimeWith({ WECHATPAY_TIMEOUT_MS: '300' }));
    const body = route.body(h);
    await h.sandbox.faults.set({ timeout: 3, timeoutMode: 'before', timeoutHangMs: 1_000, match: route.wechatPath });
    const started = Date.now();
    const before = wechatCalls(route).length;
    expectUnavailable(await send(route, body));
    expect(Date.now() - started, 'three 300 ms attempts, not the default 5 s each').toBeLessThan(4_000);
    expect(wechatCalls(route).length - before).toBe(3);
    await expectNothingCreated(route, body);
    await h.sandbox.faults.set({ timeout: 0, match: '' });
    await expectCreatedLater(route, body);
  });

  it('the main domain refuses connections → the backup domain serves the request', async () => {
    const body = route.body(h);
    await h.sandbox.faults.set({ mainDown: true });
    const before = wechatCalls(route).length;
    const answer = await expectCreatedLater(route, body);
    const calls = wechatCalls(route).slice(before);
    const backup = new URL(h.sandbox.backupUrl).origin;
    expect(calls.at(-1)?.origin, JSON.stringify(calls)).toBe(backup);
    expect(calls.every((c) => c.origin === backup || c.origin === new URL(h.sandbox.url).origin)).toBe(true);
    // The backup shares WeChat's state: the order it made is the one we answered with.
    if (route.createdField === 'h5_url') expect(answer.h5_url).toContain(new URL(h.sandbox.backupUrl).host);
    await h.sandbox.faults.set({ mainDown: false });
    expect(await send(route, body)).toMatchObject({ statusCode: 201 });
  });
});

describe('WeChat acted, then the connection hung (timeoutMode: after)', () => {
  it.each(CREATE_ROUTES.filter((r) => r.name !== 'POST /repayment-contracts').map((r) => [r.name, r] as const))(
    '%s: the identical re-send gets the order WeChat made',
    async (_name, route) => {
      h.use(h.runtimeWith({ WECHATPAY_TIMEOUT_MS: '300' }));
      const body = route.body(h);
      await h.sandbox.faults.set({ timeout: 1, timeoutMode: 'after', timeoutHangMs: 1_000, match: route.wechatPath });
      const res = await send(route, body);
      expect(res.statusCode, res.body).toBe(201);
      const orders = h.sandbox.state.listOrders().filter((o: Json) => o.out_trade_no === body.out_trade_no) as Json[];
      expect(orders).toHaveLength(1);
      expect(res.body).toContain(orders[0]!.prepay_id);
    },
  );
});

describe('unverifiable answers are never a success', () => {
  it('POST /h5-orders: WECHATPAY/SIGNTEST/ on every answer → 503, nothing stored; later the same request gets the order', async () => {
    const route = CREATE_ROUTES[0]!;
    const body = h5Body();
    await h.sandbox.faults.set({ signTest: 10, match: route.wechatPath });
    const before = wechatCalls(route).length;
    expectUnavailable(await send(route, body));
    expect(wechatCalls(route).length - before).toBe(2);
    expect(await record(route, body)).toBeUndefined();
    expect((await h.rt.claims.get<Json>(storeKeys.h5Order(body.out_trade_no)))?.h5_url).toBeUndefined();
    // WeChat did make the order; asked again with the identical bytes it hands over that order's link.
    await h.sandbox.faults.set({ signTest: 0, match: '' });
    const answer = await expectCreatedLater(route, body);
    const [order] = h.sandbox.state.listOrders().filter((o: Json) => o.out_trade_no === body.out_trade_no) as Json[];
    expect(answer.h5_url).toContain(order!.prepay_id);
  });

  it('POST /repayment-contracts: WECHATPAY/SIGNTEST/ on the presign answer → 503, no redirect_url stored or answered', async () => {
    const route = CREATE_ROUTES[2]!;
    const body = route.body(h);
    await h.sandbox.faults.set({ signTest: 10, match: route.wechatPath });
    expectUnavailable(await send(route, body));
    await expectNothingCreated(route, body);
    const get = await (await import('../../functions/http/get-repayment-contract')).handler(
      httpEvent('', {}, false, { pathParameters: { out_contract_code: body.out_contract_code } }),
    );
    expect(get.statusCode).toBe(404);
    expect((await tableItems(h)).filter((i) => i.out_contract_code === body.out_contract_code && i.redirect_url)).toEqual([]);
  });

  it('POST /contract-orders: an APIv2 answer whose sign does not verify → 503, nothing stored as created', async () => {
    const route = CREATE_ROUTES[1]!;
    const body = route.body(h);
    h.intercept = (url, init) => {
      if (!url.pathname.endsWith(route.wechatPath)) return undefined;
      return fetch(url, init).then(async (real) => {
        const text = (await real.text()).replace(/<sign><!\[CDATA\[([0-9A-F])/, (_m, c: string) => `<sign><![CDATA[${c === '0' ? '1' : '0'}`);
        return new Response(text, { status: real.status, headers: real.headers });
      });
    };
    expectUnavailable(await send(route, body));
    await expectNothingCreated(route, body);
    h.intercept = undefined;
    // WeChat made the order: the identical request is re-sent and gets it.
    const answer = await expectCreatedLater(route, body);
    const [order] = h.sandbox.state.listOrders().filter((o: Json) => o.out_trade_no === body.out_trade_no) as Json[];
    expect(answer.prepay_id).toBe(order!.prepay_id);
  });
});

describe('a probe-signed notification delivery', () => {
  it('is refused, WeChat re-sends it correctly signed, and the payment lands once', async () => {
    const body = h5Body();
    const created = parse(await send(CREATE_ROUTES[0]!, body));
    await h.sandbox.faults.set({ notifySignTest: 1 });
    const seq = h.sandbox.notifications.list().at(-1)?.seq ?? 0;
    expect((await act(h, { url: created.h5_url, action: 'pay' })).status).toBe(200);
    const item = await eventually(() => h.rt.claims.get<Json>(storeKeys.h5Order(body.out_trade_no)), (i) => i?.state === 'SUCCESS');
    expect(item?.state).toBe('SUCCESS');
    const mine = h.sandbox.notifications.list().filter((a) => a.seq > seq);
    expect(mine[0]).toMatchObject({ probe: true, ok: false, status: 401, attempt: 1 });
    expect(mine.find((a) => a.ok)).toMatchObject({ status: 204, attempt: 2 });
    expect([...(item!.event_ids as Set<string>)]).toHaveLength(1);
  });
});

describe('leaks', () => {
  it('nothing secret in the logs or the table after the faults', async () => {
    expect(h.calls.filter((c) => c.authorization).length).toBeGreaterThan(10);
    expect(await leaksIn(h, output)).toEqual([]);
  });
});
