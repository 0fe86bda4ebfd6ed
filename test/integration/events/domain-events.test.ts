import { randomBytes } from 'node:crypto';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as createH5 } from '../../../functions/http/create-h5-order';
import { handler as getH5 } from '../../../functions/http/get-h5-order';
import { handler as createRefund } from '../../../functions/http/create-refund';
import { handler as notifyH5 } from '../../../functions/notify/h5-payment';
import { handler as notifyRefund } from '../../../functions/notify/refund';
import type { DomainEvent } from '../../../shared/events/domain-events';
import { ensureTable } from '../../../scripts/local/dynamodb';
import { pollTableStream, type StreamPoller } from '../../../scripts/local/stream-events';
import { localStack, testDynamoDbClient } from '../../support/env';
import { eventually } from '../../support/eventually';
import { httpEvent, lambdaContext, startFlowStack, type FlowStack } from '../../support/flow';
import { buildNotification, paidTransaction } from '../../support/notifications';

/**
 * Domain events from DynamoDB Local's real stream, through the same batch publisher the stream-triggered Lambda runs:
 * one event per state change, none for a replayed notification.
 */
type Result = APIGatewayProxyStructuredResultV2;
let flow: FlowStack;
let poller: StreamPoller;
const published: DomainEvent[] = [];

const parse = (r: Result) => JSON.parse(r.body ?? '{}') as Record<string, any>;
const uniq = (prefix: string) => `${prefix}${randomBytes(8).toString('hex')}`;
const call = async (handler: unknown, body: unknown, extra: Record<string, unknown> = {}) =>
  (await (handler as (e: unknown, c: unknown) => Promise<Result>)(httpEvent(body, extra), lambdaContext(29_000))) as Result;
const eventsFor = (key: string, value: string) => published.filter((e) => e.data[key] === value);

beforeAll(async () => {
  const tableName = `events-${randomBytes(4).toString('hex')}`;
  const dynamo = testDynamoDbClient();
  await ensureTable(dynamo, tableName);
  flow = await startFlowStack({
    tableName,
    routes: { 'POST /notify/h5-payment': notifyH5 as never, 'POST /notify/refund': notifyRefund as never },
    env: { REFUND_MIN_INTERVAL_SECONDS: '0' },
  });
  poller = await pollTableStream({
    dynamo,
    endpoint: localStack().dynamodbEndpoint,
    tableName,
    from: 'TRIM_HORIZON',
    intervalMs: 100,
    publisher: { publish: async (events) => void published.push(...events) },
  });
}, 60_000);
afterAll(async () => {
  await poller?.stop();
  await flow?.close();
});

describe('domain events from the table stream', () => {
  it('a payment and its refund: payment.succeeded and refund.succeeded once each, a replayed notification emits none', async () => {
    await flow.sandbox.faults.set({ refundOutcome: 'manual' });
    const no = uniq('EV');
    const created = await call(createH5, { out_trade_no: no, description: '事件', amount: { total: 300 }, scene_info: { payer_client_ip: '14.23.150.211', h5_info: { type: 'iOS' } } });
    expect(created.statusCode).toBe(201);
    expect((await flow.act({ url: parse(created).h5_url, action: 'pay' })).status).toBe(200);
    await eventually(async () => parse(await call(getH5, '', { pathParameters: { out_trade_no: no } })).state, (s) => s === 'SUCCESS');
    // WeChat sends the same payment again (a retry): acknowledged, nothing changes, no event.
    const again = buildNotification(flow.notificationKeys('direct'), { eventType: 'TRANSACTION.SUCCESS', resource: paidTransaction(flow.merchant('direct'), no, 300) });
    expect(((await (notifyH5 as (e: unknown) => Promise<Result>)(httpEvent(again.body, { headers: again.headers }))) as Result).statusCode).toBe(204);
    const refundNo = uniq('EVR');
    expect((await call(createRefund, { out_trade_no: no, out_refund_no: refundNo, amount: { refund: 100 } })).statusCode).toBe(201);
    expect((await flow.act({ out_refund_no: refundNo, action: 'refund-success' })).status).toBe(200);
    await eventually(async () => eventsFor('out_refund_no', refundNo).length, (n) => n > 0, 15_000);
    await new Promise((resolve) => setTimeout(resolve, 500)); // time for anything extra to show up
    expect(eventsFor('out_trade_no', no).filter((e) => e.data['product'] === 'h5').map((e) => e.type)).toEqual(['payment.succeeded']);
    expect(eventsFor('out_refund_no', refundNo).map((e) => e.type)).toEqual(['refund.succeeded']);
    const paid = eventsFor('out_trade_no', no).find((e) => e.type === 'payment.succeeded')!;
    expect(paid).toMatchObject({ version: 1, data: { amount_total: 300, state: 'SUCCESS', transaction_id: expect.any(String) } });
    expect(new Set(published.map((e) => e.id)).size).toBe(published.length);
  });

  it('sandbox trigger makes the event happen; sandbox resend sends the same notification again, acknowledged, no second event', async () => {
    const no = uniq('EVT');
    const created = await call(createH5, { out_trade_no: no, description: '触发', amount: { total: 200 }, scene_info: { payer_client_ip: '14.23.150.211', h5_info: { type: 'iOS' } } });
    expect(created.statusCode).toBe(201);
    const post = (path: string, body: unknown) => fetch(`${flow.sandbox.url}/sandbox/${path}`, { method: 'POST', body: JSON.stringify(body) });
    expect((await post('trigger', { event: 'payment.succeeded', out_trade_no: no })).status).toBe(200);
    await eventually(async () => eventsFor('out_trade_no', no).length, (n) => n > 0, 15_000);
    const ids = flow.sandbox.notifications.list().filter((a) => a.event === 'TRANSACTION.SUCCESS' && a.ok).map((a) => a.id);
    const before = flow.sandbox.notifications.list().length;
    expect((await post('resend', { id: ids.at(-1) })).status).toBe(200);
    await eventually(async () => flow.sandbox.notifications.list().length, (n) => n > before);
    expect(flow.sandbox.notifications.list().at(-1)).toMatchObject({ id: ids.at(-1), ok: true });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(eventsFor('out_trade_no', no).map((e) => e.type)).toEqual(['payment.succeeded']);
    expect((await post('resend', { id: 'no-such-id' })).status).toBe(404);
    expect((await post('trigger', { event: 'payment.refunded' })).status).toBe(400);
  });
});
