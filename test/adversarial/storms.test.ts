/**
 * Concurrency storms.
 *
 * - 200 concurrent copies of one genuine notification per notify route (half of them base64-encoded, as API Gateway
 *   may send them) → all acknowledged, and exactly one state change: the DynamoDB middleware counts successful
 *   forward transitions (`UpdateItem … ADD #events`) per record, which must equal what ONE delivery makes, and the
 *   notification id is recorded once.
 * - The same through the sandbox over real HTTP (`notifyCopies: 200`), for the H5 and the contract-order routes.
 * - 50 concurrent identical create requests per create route → one WeChat call (counted by the runtime's fetch) and
 *   50 identical answers; 50 concurrent DIFFERENT requests for one business key → one 201, 49 × 409, one WeChat call.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { keys as storeKeys } from '../../shared/store/keys';
import {
  CREATE_ROUTES,
  V2_ROUTES,
  V2_SUCCESS_XML,
  V3_ROUTES,
  act,
  captureOutput,
  contractOrderBody,
  eventually,
  h5Body,
  header,
  httpEvent,
  leaksIn,
  parse,
  snapshot,
  startHarness,
  traceOf,
  v2Event,
  v2Xml,
  v3Notification,
  type CapturedOutput,
  type Harness,
} from './support';

const COPIES = 200;
const CREATES = 50;

let h: Harness;
let output: CapturedOutput;

beforeAll(async () => {
  output = captureOutput();
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
  output?.restore();
});

beforeEach(async () => {
  await h.sandbox.faults.set({ notifyCopies: 1, systemError: 0, timeout: 0, signTest: 0, match: '' });
});

const unmatched = async () => (await snapshot(h, ['UNMATCHED#'])).filter((i) => JSON.parse(i).pk.startsWith('UNMATCHED#'));

describe.each(V3_ROUTES.map((r) => [r.name, r] as const))(`APIv3 %s: ${COPIES} concurrent copies of one notification`, (_name, route) => {
  it('all answered 204; exactly one state change; the event id recorded once', async () => {
    const target = await route.prepare(h);
    const n = v3Notification(h, route, target);
    const id = JSON.parse(n.body).id as string;
    h.transitions.clear();
    h.writes.clear();
    const results = await Promise.all(Array.from({ length: COPIES }, (_, i) => route.handler(httpEvent(n.body, n.headers, i % 2 === 1))));
    expect(results.map((r) => r.statusCode)).toEqual(Array(COPIES).fill(204));
    expect(Object.fromEntries(h.transitions)).toEqual(target.transitions);
    // Duplicates write nothing: the applied copy's state change plus at most one pointer/bookkeeping item.
    expect([...h.writes.values()].reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(3);
    expect(await target.state()).toBe(target.expectedState);
    expect(await target.eventIds()).toEqual([id]);
    expect(await unmatched()).toEqual([]);
  });
});

describe.each(V2_ROUTES.map((r) => [r.name, r] as const))(`APIv2 %s: ${COPIES} concurrent copies of one notification`, (_name, route) => {
  it('all answered with the SUCCESS XML; exactly one state change; the event id recorded once', async () => {
    const target = await route.prepare(h);
    const xml = v2Xml(target.fields, h.direct.apiV2Key);
    h.transitions.clear();
    const results = await Promise.all(Array.from({ length: COPIES }, (_, i) => route.handler(v2Event(xml, i % 2 === 1))));
    expect(results.map((r) => [r.statusCode, r.body])).toEqual(Array(COPIES).fill([200, V2_SUCCESS_XML]));
    expect(Object.fromEntries(h.transitions)).toEqual(target.transitions);
    expect(await target.state()).toBe(target.expectedState);
    const eventId = target.fields.transaction_id ?? `${target.fields.contract_id}:${target.fields.change_type}`;
    expect(await target.eventIds()).toEqual([eventId]);
    expect(await unmatched()).toEqual([]);
  });
});

describe(`the sandbox delivers ${COPIES} concurrent copies over HTTP`, () => {
  it('H5: one payment, 200 copies of TRANSACTION.SUCCESS, all 204, SUCCESS once', async () => {
    const body = h5Body();
    const created = await CREATE_ROUTES[0]!.handler(httpEvent(JSON.stringify(body)));
    expect(created.statusCode).toBe(201);
    await h.sandbox.faults.set({ notifyCopies: COPIES });
    const seq = h.sandbox.notifications.list().at(-1)?.seq ?? 0;
    h.transitions.clear();
    expect((await act(h, { url: parse(created).h5_url, action: 'pay' })).status).toBe(200);
    const mine = await eventually(
      async () => h.sandbox.notifications.list().filter((a) => a.seq > seq),
      (list) => list.length >= COPIES && h.sandbox.notifications.pending() === 0,
      20_000,
    );
    expect(mine).toHaveLength(COPIES);
    expect(mine.every((a) => a.event === 'TRANSACTION.SUCCESS' && a.ok && a.status === 204 && a.attempt === 1)).toBe(true);
    expect(Object.fromEntries(h.transitions)).toEqual({ [storeKeys.h5Order(body.out_trade_no).pk]: 1 });
    const item = await h.rt.claims.get<{ state: string; event_ids: Set<string> }>(storeKeys.h5Order(body.out_trade_no));
    expect(item?.state).toBe('SUCCESS');
    expect([...item!.event_ids]).toEqual([mine[0]!.id]);
  });

  it('contract order: 200 copies of the payment and of the contract notification, each state once', async () => {
    const body = contractOrderBody(h);
    const created = await CREATE_ROUTES[1]!.handler(httpEvent(JSON.stringify(body)));
    expect(created.statusCode, created.body).toBe(201);
    await h.sandbox.faults.set({ notifyCopies: COPIES });
    const seq = h.sandbox.notifications.list().at(-1)?.seq ?? 0;
    h.transitions.clear();
    expect((await act(h, { out_trade_no: body.out_trade_no, action: 'pay' })).status).toBe(200);
    const mine = await eventually(
      async () => h.sandbox.notifications.list().filter((a) => a.seq > seq),
      (list) => list.length >= 2 * COPIES && h.sandbox.notifications.pending() === 0,
      20_000,
    );
    expect(mine).toHaveLength(2 * COPIES);
    expect(mine.filter((a) => a.event === 'V2.PAYMENT' && a.ok && a.attempt === 1)).toHaveLength(COPIES);
    expect(mine.filter((a) => a.event === 'V2.CONTRACT.ADD' && a.ok && a.attempt === 1)).toHaveLength(COPIES);
    expect(Object.fromEntries(h.transitions)).toEqual({
      [storeKeys.contractOrder(body.out_trade_no).pk]: 1,
      [storeKeys.contractCode(body.contract_code).pk]: 1,
    });
    expect((await h.rt.claims.get<{ state: string }>(storeKeys.contractOrder(body.out_trade_no)))?.state).toBe('SUCCESS');
    expect((await h.rt.claims.get<{ state: string }>(storeKeys.contractCode(body.contract_code)))?.state).toBe('SIGNED');
  });
});

describe.each(CREATE_ROUTES.map((r) => [r.name, r] as const))(`%s: ${CREATES} concurrent requests`, (_name, route) => {
  it(`${CREATES} identical → one WeChat call, ${CREATES} identical 201 answers`, async () => {
    const body = JSON.stringify(route.body(h));
    const before = h.calls.filter((c) => c.path === route.wechatPath).length;
    const results = await Promise.all(Array.from({ length: CREATES }, () => route.handler(httpEvent(body))));
    expect(results.map((r) => r.statusCode)).toEqual(Array(CREATES).fill(201));
    expect(new Set(results.map((r) => r.body)).size, 'answers differ').toBe(1);
    expect(results.filter((r) => header(r, 'idempotent-replayed') === 'true')).toHaveLength(CREATES - 1);
    expect(h.calls.filter((c) => c.path === route.wechatPath).length - before).toBe(1);
    expect(parse(results[0]!)[route.createdField]).toEqual(expect.any(String));
  });

  it(`${CREATES} different requests for one key → one 201, ${CREATES - 1} × 409 ${route.conflictCode}, one WeChat call`, async () => {
    const base = route.body(h);
    const before = h.calls.filter((c) => c.path === route.wechatPath).length;
    const results = await Promise.all(Array.from({ length: CREATES }, (_, i) => route.handler(httpEvent(JSON.stringify(route.vary(base, i))))));
    const statuses = results.map((r) => r.statusCode).sort();
    expect(statuses).toEqual([201, ...Array(CREATES - 1).fill(409)]);
    expect(results.filter((r) => r.statusCode === 409).every((r) => parse(r).code === route.conflictCode)).toBe(true);
    expect(h.calls.filter((c) => c.path === route.wechatPath).length - before).toBe(1);
  });
});

describe('leaks', () => {
  it('nothing secret in the logs or the table after the storms', async () => {
    const { items } = await traceOf(h, output);
    expect(items.length).toBeGreaterThan(10);
    expect(await leaksIn(h, output)).toEqual([]);
  });
});
