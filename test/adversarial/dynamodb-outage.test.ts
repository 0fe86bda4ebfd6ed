/**
 * DynamoDB stops mid-run: nothing is lost.
 *
 * This file starts ITS OWN DynamoDB Local (a free port, `-dbPath` in a temp folder, so the data survives a restart;
 * never the run's shared instance), points a runtime and a private sandbox at it, creates an H5 order and a contract
 * order, then stops DynamoDB and has WeChat (the sandbox) deliver the real notifications of both payments:
 *
 * - while DynamoDB is down, a create answers a 5xx problem and makes NO WeChat call (nothing is sent that we could not
 *   record), and every notification delivery is answered 5xx (v3 JSON FAIL / v2 FAIL XML), so WeChat keeps it;
 * - DynamoDB restarts on the same port with the same files; the sandbox's next scheduled re-send lands and the orders
 *   end SUCCESS (and the contract SIGNED), each transition applied once.
 *
 * The sandbox runs with timeScale 0.003: WeChat's 15 s / 15 s / 30 s / 3 min / 10 min … schedule becomes
 * 45 ms / 45 ms / 90 ms / 0.54 s / 1.8 s / 3.6 s / 5.4 s …, so re-sends keep coming for ~2 min of real time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startDynamoDbLocal, type DynamoDbLocal } from '../../scripts/local/dynamodb';
import { keys as storeKeys } from '../../shared/store/keys';
import {
  CREATE_ROUTES,
  act,
  captureOutput,
  contractOrderBody,
  eventually,
  h5Body,
  header,
  httpEvent,
  leaksIn,
  parse,
  startHarness,
  traceOf,
  type CapturedOutput,
  type Harness,
  type Json,
} from './support';

let dynamo: DynamoDbLocal | undefined;
let dbPath: string;
let port: number;
let h: Harness;
let output: CapturedOutput;

beforeAll(async () => {
  output = captureOutput();
  dbPath = mkdtempSync(join(tmpdir(), 'adv-ddb-'));
  port = await freePort();
  dynamo = await startDynamoDbLocal({ port, inMemory: false, dbPath, portEnvName: 'the adversarial outage test port' });
  h = await startHarness({ dynamodbEndpoint: dynamo.endpoint, tableName: 'adversarial-outage', timeScale: 0.003 });
}, 120_000);

afterAll(async () => {
  await h?.close();
  await dynamo?.stop();
  if (dbPath) rmSync(dbPath, { recursive: true, force: true });
  output?.restore();
});

describe('DynamoDB Local stopped mid-run', () => {
  it('notifications get 5xx while it is down; WeChat retries land after the restart; the orders end paid', async () => {
    const h5 = h5Body();
    const h5Order = parse(await CREATE_ROUTES[0]!.handler(httpEvent(JSON.stringify(h5))));
    expect(h5Order.h5_url).toEqual(expect.any(String));
    const pap = contractOrderBody(h);
    expect((await CREATE_ROUTES[1]!.handler(httpEvent(JSON.stringify(pap)))).statusCode).toBe(201);

    await dynamo!.stop();
    dynamo = undefined;

    // A create while the table is unreachable: refused before WeChat is called.
    const callsBefore = h.calls.length;
    const refused = await CREATE_ROUTES[0]!.handler(httpEvent(JSON.stringify(h5Body())));
    expect(refused.statusCode).toBeGreaterThanOrEqual(500);
    expect(header(refused, 'content-type')).toMatch(/^application\/problem\+json/);
    expect(h.calls.length - callsBefore).toBe(0);

    const seq = h.sandbox.notifications.list().at(-1)?.seq ?? 0;
    expect((await act(h, { url: h5Order.h5_url, action: 'pay' })).status).toBe(200);
    expect((await act(h, { out_trade_no: pap.out_trade_no, action: 'pay' })).status).toBe(200);
    const mine = () => h.sandbox.notifications.list().filter((a) => a.seq > seq);
    // Each notification refused at least once, with a 5xx (never a 2xx WeChat would take as received).
    const refusedAll = await eventually(
      async () => mine(),
      (list) => ['TRANSACTION.SUCCESS', 'V2.PAYMENT', 'V2.CONTRACT.ADD'].every((e) => list.some((a) => a.event === e && a.status !== null && a.status >= 500)),
      20_000,
    );
    for (const event of ['TRANSACTION.SUCCESS', 'V2.PAYMENT', 'V2.CONTRACT.ADD']) {
      const failed = refusedAll.filter((a) => a.event === event && !a.ok);
      expect(failed.length, event).toBeGreaterThan(0);
      expect(failed.every((a) => a.status !== null && a.status >= 500), JSON.stringify(failed)).toBe(true);
    }
    expect(h.served.calls.filter((c) => c.status < 500)).toEqual([]);

    // Back, same port, same files.
    dynamo = await startDynamoDbLocal({ port, inMemory: false, dbPath, portEnvName: 'the adversarial outage test port' });

    const state = async () => ({
      h5: (await h.rt.claims.get<Json>(storeKeys.h5Order(h5.out_trade_no)).catch(() => undefined))?.state,
      payment: (await h.rt.claims.get<Json>(storeKeys.contractOrder(pap.out_trade_no)).catch(() => undefined))?.state,
      contract: (await h.rt.claims.get<Json>(storeKeys.contractCode(pap.contract_code)).catch(() => undefined))?.state,
    });
    const final = await eventually(state, (s) => s.h5 === 'SUCCESS' && s.payment === 'SUCCESS' && s.contract === 'SIGNED', 60_000, 200);
    expect(final).toEqual({ h5: 'SUCCESS', payment: 'SUCCESS', contract: 'SIGNED' });

    // Every notification was finally acknowledged by a re-send (attempt > 1), none was given up.
    for (const event of ['TRANSACTION.SUCCESS', 'V2.PAYMENT', 'V2.CONTRACT.ADD']) {
      const acked = await h.sandbox.notifications.waitFor((a) => a.seq > seq && a.event === event && a.ok, 10_000);
      expect(acked.attempt, event).toBeGreaterThan(1);
    }
    expect(mine().some((a) => a.final)).toBe(false);
    for (const key of [storeKeys.h5Order(h5.out_trade_no), storeKeys.contractOrder(pap.out_trade_no), storeKeys.contractCode(pap.contract_code)]) {
      expect([...((await h.rt.claims.get<Json>(key))!.event_ids as Set<string>)], key.pk).toHaveLength(1);
    }
  }, 120_000);

  it('leaks nothing into the logs or the table', async () => {
    const { items } = await traceOf(h, output);
    expect(items.length).toBeGreaterThan(2);
    expect(output.lines.length, 'the failures were logged').toBeGreaterThan(5);
    expect(await leaksIn(h, output)).toEqual([]);
  });
});
