import { createHash, randomBytes } from 'node:crypto';
import { PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { Aes } from 'wechatpay-axios-plugin';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { handler as v3Handler } from '../../../functions/notify/refund';
import { handler as v2Handler } from '../../../functions/notify/contract-order-refund';
import { handler as getRefundHandler } from '../../../functions/http/get-refund';
import { changeRefund, reserveRefund, type PaidOrder } from '../../../shared/refund/ledger';
import { findPaidOrder } from '../../../shared/refund/orders';
import type { RefundRecord } from '../../../shared/refund/record';
import { toAttributes } from '../../../shared/store/items';
import { keys } from '../../../shared/store/keys';
import { localStack } from '../../support/env';
import { httpEvent, startFlowStack, type FlowStack } from '../../support/flow';
import { refundDraft } from '../../support/refunds';
import { buildNotification, strangerKey, v2XmlRaw, type NotificationKeys } from '../../support/notifications';

type Result = APIGatewayProxyStructuredResultV2;
type Json = Record<string, any>;

/**
 * Both refund notification routes against DynamoDB Local, with notifications built independently of shared/:
 * v3 REFUND.* (RSA-signed, AES-GCM), v2 req_info (AES-256-ECB under MD5(APIv2 key), by wechatpay-axios-plugin).
 * Refunds are set up through the ledger so the reservation's release can be watched.
 */
let flow: FlowStack;
let v3Keys: NotificationKeys;
let direct: { mchid: string; appid: string; apiV2Key: string };

beforeAll(async () => {
  flow = await startFlowStack({ routes: {} });
  flow.use(flow.runtimeWith({ REFUND_MIN_INTERVAL_SECONDS: '0' }));
  v3Keys = flow.notificationKeys('direct');
  const m = flow.merchant('direct');
  direct = { mchid: m.mchid, appid: m.appid, apiV2Key: m.apiV2Key! };
});
afterAll(async () => {
  await flow?.close();
});
beforeEach(() => flow.reset());

const uniq = (prefix: string) => `${prefix}${randomBytes(8).toString('hex')}`;
const rt = () => flow.rt;

async function paidOrder(product: 'H5' | 'CONTRACT_ORDER', total: number): Promise<PaidOrder> {
  const outTradeNo = uniq(product === 'H5' ? 'H5R' : 'PAPR');
  const now = Date.now();
  const common = { out_trade_no: outTradeNo, mchid: direct.mchid, appid: direct.appid, state: 'SUCCESS', transaction_id: uniq('4200'), fingerprint: 'f', claim_status: 'DONE', created_at: now, updated_at: now };
  const item =
    product === 'H5'
      ? { ...keys.h5Order(outTradeNo), kind: 'H5_ORDER', amount_total: total, currency: 'CNY', success_time: new Date(now).toISOString(), ...common }
      : { ...keys.contractOrder(outTradeNo), kind: 'CONTRACT_ORDER', total_fee: total, trade_type: 'APP', contract_code: uniq('C'), plan_id: '1', ...common };
  await rt().dynamo.send(new PutItemCommand({ TableName: rt().config.tableName, Item: toAttributes(item) }));
  return findPaidOrder(rt(), outTradeNo);
}

/** A refund WeChat accepted (PROCESSING), with its amount reserved on the order. */
async function processingRefund(order: PaidOrder, amount: number): Promise<RefundRecord> {
  const outRefundNo = uniq('RF');
  const reserved = await reserveRefund(rt(), order, refundDraft(order, amount, outRefundNo), 30_000);
  if (reserved.kind !== 'reserved') throw new Error('unreachable');
  await changeRefund(rt(), outRefundNo, { to: 'PROCESSING', from: ['CREATING'], set: { refund_id: uniq('5030') }, token: reserved.token }, amount, order.key);
  return (await rt().claims.get<RefundRecord>(keys.refund(outRefundNo)))!;
}

const refund = async (no: string) => (await rt().claims.get<RefundRecord>(keys.refund(no)))!;
const reserved = async (order: PaidOrder) => Number((await rt().claims.get(order.key))?.['refund_reserved'] ?? 0);
const flagged = async (no: string) => {
  const scan = await rt().dynamo.send(new ScanCommand({ TableName: localStack().tableName }));
  return (scan.Items ?? []).map((i) => unmarshall(i)).filter((i) => i['kind'] === 'UNMATCHED_EVENT' && i['business_key'] === no);
};

function v3Resource(r: RefundRecord, status: 'SUCCESS' | 'ABNORMAL' | 'CLOSED', over: Json = {}): Json {
  return {
    mchid: direct.mchid,
    out_trade_no: r.out_trade_no,
    transaction_id: r.transaction_id,
    out_refund_no: r.out_refund_no,
    refund_id: r.refund_id,
    refund_status: status,
    ...(status === 'SUCCESS' ? { success_time: '2026-12-03T10:00:00+08:00' } : {}),
    user_received_account: '支付用户零钱',
    amount: { total: r.amount_total, refund: r.amount_refund, payer_total: r.amount_total, payer_refund: r.amount_refund },
    ...over,
  };
}

async function notifyV3(resource: Json, eventType = `REFUND.${resource['refund_status']}`, options: { keys?: NotificationKeys; id?: string } = {}) {
  const n = buildNotification(options.keys ?? v3Keys, { eventType, resource, associatedData: '', originalType: 'refund', ...(options.id ? { id: options.id } : {}) });
  return (await v3Handler(httpEvent(n.body, { headers: n.headers }))) as Result;
}

/** WeChat's v2 refund notification: no sign; req_info = AES-256-ECB(MD5(key)) of a <root> document. */
function v2Notification(r: RefundRecord, status: 'SUCCESS' | 'CHANGE' | 'REFUNDCLOSE', over: Record<string, string> = {}, key = direct.apiV2Key, outer: Record<string, string> = {}): string {
  const inner: Record<string, string> = {
    transaction_id: r.transaction_id,
    out_trade_no: r.out_trade_no,
    refund_id: r.refund_id ?? '',
    out_refund_no: r.out_refund_no,
    total_fee: String(r.amount_total),
    refund_fee: String(r.amount_refund),
    settlement_refund_fee: String(r.amount_refund),
    refund_status: status,
    success_time: '2026-12-03 10:00:00',
    refund_recv_accout: '支付用户零钱',
    refund_account: 'REFUND_SOURCE_UNSETTLED_FUNDS',
    refund_request_source: 'API',
    ...over,
  };
  const xml = `<root>${Object.entries(inner).map(([k, v]) => `<${k}><![CDATA[${v}]]></${k}>`).join('')}</root>`;
  const reqInfo = Aes.AesEcb.encrypt(xml, createHash('md5').update(key).digest('hex'));
  return v2XmlRaw({ return_code: 'SUCCESS', appid: direct.appid, mch_id: direct.mchid, nonce_str: randomBytes(8).toString('hex'), req_info: reqInfo, ...outer });
}

const notifyV2 = async (xml: string) => (await v2Handler(httpEvent(xml, { headers: { 'content-type': 'text/xml' } }))) as Result;

describe('REFUND.* (APIv3) at /notify/refund', () => {
  it('checklist G1, G6: SUCCESS is applied once, however many copies arrive at once; a late ABNORMAL cannot move it back', async () => {
    const order = await paidOrder('H5', 1_000);
    const r = await processingRefund(order, 400);
    const id = uniq('EV');
    const copies = await Promise.all(Array.from({ length: 10 }, () => notifyV3(v3Resource(r, 'SUCCESS'), undefined, { id })));
    expect(copies.every((c) => c.statusCode === 204)).toBe(true);
    const after = await refund(r.out_refund_no);
    expect(after).toMatchObject({ state: 'SUCCESS', success_time: '2026-12-03T10:00:00+08:00', user_received_account: '支付用户零钱' });
    expect([...(after['event_ids'] as Set<string>)]).toEqual([id]);
    expect((await notifyV3(v3Resource(r, 'ABNORMAL'))).statusCode).toBe(204);
    expect((await refund(r.out_refund_no)).state).toBe('SUCCESS');
    expect(await reserved(order)).toBe(400);
    const view = JSON.parse(((await getRefundHandler(httpEvent('', { pathParameters: { out_refund_no: r.out_refund_no } }))) as Result).body ?? '{}');
    expect(view).toMatchObject({ state: 'SUCCESS', amount: { refund: 400, total: 1_000, currency: 'CNY' }, success_time: '2026-12-03T10:00:00+08:00' });
  });

  it('CLOSED gives the reserved amount back once; ABNORMAL is surfaced with its remedy and keeps it reserved', async () => {
    const order = await paidOrder('H5', 1_000);
    const closing = await processingRefund(order, 600);
    const abnormal = await processingRefund(order, 300);
    expect(await reserved(order)).toBe(900);
    expect((await notifyV3(v3Resource(closing, 'CLOSED'))).statusCode).toBe(204);
    expect((await notifyV3(v3Resource(closing, 'CLOSED'))).statusCode).toBe(204); // a re-send with a new id
    expect(await reserved(order)).toBe(300);
    expect((await notifyV3(v3Resource(abnormal, 'ABNORMAL'))).statusCode).toBe(204);
    const view = JSON.parse(((await getRefundHandler(httpEvent('', { pathParameters: { out_refund_no: abnormal.out_refund_no } }))) as Result).body ?? '{}');
    expect(view).toMatchObject({ state: 'ABNORMAL', remedy: expect.stringContaining('abnormal-refund') });
    expect(await reserved(order)).toBe(300);
    // ABNORMAL is not final: WeChat's later SUCCESS still applies.
    expect((await notifyV3(v3Resource(abnormal, 'SUCCESS'))).statusCode).toBe(204);
    expect((await refund(abnormal.out_refund_no)).state).toBe('SUCCESS');
  });

  it.each([
    ['another amount', { amount: { total: 1_000, refund: 401, payer_total: 1_000, payer_refund: 401 } }, 'amount_refund'],
    ['another order', { out_trade_no: 'H5OTHER000001' }, 'out_trade_no'],
    ['another merchant', { mchid: '1999999999' }, 'mchid'],
    ['no amount', { amount: undefined }, 'amount.refund'],
  ])('authentic but with %s: flagged, acknowledged, nothing applied', async (_name, over, field) => {
    const order = await paidOrder('H5', 1_000);
    const r = await processingRefund(order, 400);
    expect((await notifyV3(v3Resource(r, 'CLOSED', over))).statusCode).toBe(204);
    expect((await refund(r.out_refund_no)).state).toBe('PROCESSING');
    expect(await reserved(order)).toBe(400);
    const flags = await flagged(r.out_refund_no);
    expect(flags).toHaveLength(1);
    expect(String(flags[0]!['reason'])).toContain(field);
  });

  it('checklist G1, G2: a tampered, wrongly keyed or mislabelled notification is refused and changes nothing', async () => {
    const order = await paidOrder('H5', 1_000);
    const r = await processingRefund(order, 400);
    const n = buildNotification(v3Keys, { eventType: 'REFUND.CLOSED', resource: v3Resource(r, 'CLOSED'), associatedData: '', originalType: 'refund' });
    const tampered = n.body.replace('"REFUND.CLOSED"', '"REFUND.SUCCESS"');
    expect(((await v3Handler(httpEvent(tampered, { headers: n.headers }))) as Result).statusCode).toBe(401);
    expect((await notifyV3(v3Resource(r, 'CLOSED'), undefined, { keys: { ...v3Keys, privateKeyPem: strangerKey() } })).statusCode).toBe(401);
    expect((await notifyV3(v3Resource(r, 'CLOSED'), undefined, { keys: { ...v3Keys, apiV3Key: 'Z'.repeat(32) } })).statusCode).toBe(401);
    // Authentic, but the event type and the payload disagree: not guessed at.
    expect((await notifyV3(v3Resource(r, 'CLOSED'), 'REFUND.SUCCESS')).statusCode).toBe(400);
    expect((await refund(r.out_refund_no)).state).toBe('PROCESSING');
    expect(await reserved(order)).toBe(400);
  });
});

describe('APIv2 refund notification (req_info) at /notify/contract-order/refund', () => {
  it('SUCCESS opens with the MD5 of the APIv2 key and is applied once; REFUNDCLOSE releases, CHANGE is ABNORMAL', async () => {
    const order = await paidOrder('CONTRACT_ORDER', 888);
    const ok = await processingRefund(order, 300);
    const closed = await processingRefund(order, 200);
    const changed = await processingRefund(order, 100);
    for (let i = 0; i < 3; i += 1) {
      const res = await notifyV2(v2Notification(ok, 'SUCCESS'));
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain('<return_code><![CDATA[SUCCESS]]></return_code>');
    }
    expect(await refund(ok.out_refund_no)).toMatchObject({ state: 'SUCCESS', success_time: '2026-12-03 10:00:00' });
    expect([...((await refund(ok.out_refund_no))['event_ids'] as Set<string>)]).toHaveLength(1);
    expect((await notifyV2(v2Notification(closed, 'REFUNDCLOSE'))).statusCode).toBe(200);
    expect((await notifyV2(v2Notification(changed, 'CHANGE'))).statusCode).toBe(200);
    expect((await refund(closed.out_refund_no)).state).toBe('CLOSED');
    expect((await refund(changed.out_refund_no)).state).toBe('ABNORMAL');
    expect(await reserved(order)).toBe(400);
  });

  it('refuses a wrong key, a tampered req_info, another merchant and a missing req_info; flags a wrong amount', async () => {
    const order = await paidOrder('CONTRACT_ORDER', 888);
    const r = await processingRefund(order, 300);
    expect((await notifyV2(v2Notification(r, 'REFUNDCLOSE', {}, 'W'.repeat(32)))).statusCode).toBe(401);
    const good = v2Notification(r, 'REFUNDCLOSE');
    const reqInfo = /<req_info><!\[CDATA\[(.*?)\]\]><\/req_info>/.exec(good)![1]!;
    const bytes = Buffer.from(reqInfo, 'base64');
    bytes[5]! ^= 0x40;
    expect((await notifyV2(good.replace(reqInfo, bytes.toString('base64')))).statusCode).toBe(401);
    expect((await notifyV2(v2Notification(r, 'REFUNDCLOSE', {}, direct.apiV2Key, { mch_id: '1999999999' }))).statusCode).toBe(401);
    expect((await notifyV2(v2XmlRaw({ return_code: 'SUCCESS', appid: direct.appid, mch_id: direct.mchid }))).statusCode).toBe(401);
    expect((await refund(r.out_refund_no)).state).toBe('PROCESSING');
    expect((await notifyV2(v2Notification(r, 'REFUNDCLOSE', { refund_fee: '301' }))).statusCode).toBe(200);
    expect((await refund(r.out_refund_no)).state).toBe('PROCESSING');
    expect(await reserved(order)).toBe(300);
    expect(await flagged(r.out_refund_no)).toHaveLength(1);
  });
});
