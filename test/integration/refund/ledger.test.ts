import { randomBytes } from 'node:crypto';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceError } from '../../../shared/http/errors';
import { changeRefund, reserveRefund, type PaidOrder } from '../../../shared/refund/ledger';
import { findPaidOrder } from '../../../shared/refund/orders';
import type { RefundRecord } from '../../../shared/refund/record';
import type { Runtime } from '../../../shared/runtime/container';
import { toAttributes } from '../../../shared/store/items';
import { keys } from '../../../shared/store/keys';
import { startFlowStack, type FlowStack } from '../../support/flow';
import { refundDraft } from '../../support/refunds';

/**
 * The ledger invariant against DynamoDB Local, without WeChat: Σ (refunds not CLOSED / refused) ≤ paid, under
 * concurrency, and a released amount goes back exactly once.
 */
let flow: FlowStack;
let rt: Runtime;

beforeAll(async () => {
  flow = await startFlowStack({ routes: {} });
  rt = flow.runtimeWith({ REFUND_MIN_INTERVAL_SECONDS: '0' });
});
afterAll(async () => {
  await flow?.close();
});

const uniq = (prefix: string) => `${prefix}${randomBytes(8).toString('hex')}`;

async function paidH5Order(total: number): Promise<PaidOrder> {
  const outTradeNo = uniq('LEDGER');
  const now = Date.now();
  await rt.dynamo.send(
    new PutItemCommand({
      TableName: rt.config.tableName,
      Item: toAttributes({
        ...keys.h5Order(outTradeNo),
        kind: 'H5_ORDER',
        out_trade_no: outTradeNo,
        mchid: '1900000001',
        appid: 'wx0000000000000001',
        amount_total: total,
        currency: 'CNY',
        state: 'SUCCESS',
        transaction_id: `4200${randomBytes(8).toString('hex')}`,
        success_time: new Date(now).toISOString(),
        fingerprint: 'f',
        claim_status: 'DONE',
        created_at: now,
        updated_at: now,
      }),
    }),
  );
  return findPaidOrder(rt, outTradeNo);
}

const draft = (order: PaidOrder, amount: number) => refundDraft(order, amount);

const reservedOn = async (order: PaidOrder) => Number((await rt.claims.get(order.key))?.['refund_reserved'] ?? 0);

describe('the refund ledger', () => {
  it('checklist papay #23: 50 concurrent refunds of 30 % each: exactly 3 reserved, the others 409 REFUND_EXCEEDS_PAID naming what is left', async () => {
    const order = await paidH5Order(10_000);
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => reserveRefund(rt, order, draft(order, 3_000), 30_000)));
    const reserved = results.filter((r) => r.status === 'fulfilled' && r.value.kind === 'reserved');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(reserved).toHaveLength(3);
    expect(refused).toHaveLength(47);
    for (const r of refused) {
      expect(r.reason).toBeInstanceOf(ServiceError);
      expect((r.reason as ServiceError).code).toBe('REFUND_EXCEEDS_PAID');
      expect((r.reason as ServiceError).message).toContain('1000 fen');
    }
    expect(await reservedOn(order)).toBe(9_000);
    const stored = await rt.claims.get<{ refund_count: number; refund_nos: Set<string> }>(order.key);
    expect(stored?.refund_count).toBe(3);
    expect(stored?.refund_nos.size).toBe(3);
  });

  it('a CLOSED refund gives its amount back once, however often it is reported; then the amount can be refunded again', async () => {
    const order = await paidH5Order(5_000);
    const d = draft(order, 5_000);
    const r = await reserveRefund(rt, order, d, 30_000);
    if (r.kind !== 'reserved') throw new Error('unreachable');
    expect(await reservedOn(order)).toBe(5_000);
    await expect(reserveRefund(rt, order, draft(order, 1), 30_000)).rejects.toMatchObject({ code: 'REFUND_EXCEEDS_PAID' });

    const close = (eventId: string) =>
      changeRefund(rt, d.out_refund_no, { to: 'CLOSED', from: ['CREATING', 'PROCESSING'], eventId }, 5_000, order.key);
    const outcomes = await Promise.all([close('e1'), close('e1'), close('e2'), close('e3')]);
    expect(outcomes.filter((o) => o.kind === 'applied')).toHaveLength(1);
    expect(await reservedOn(order)).toBe(0);
    expect((await rt.claims.get<RefundRecord>(keys.refund(d.out_refund_no)))?.state).toBe('CLOSED');
    // The money was never returned: a new refund (new number) may take it.
    expect((await reserveRefund(rt, order, draft(order, 5_000), 30_000)).kind).toBe('reserved');
  });

  it('refuses an unpaid order, the 51st refund, and a refund too soon after the last (interval rule)', async () => {
    const unpaid = await paidH5Order(100);
    await rt.claims.touch(unpaid.key, { state: 'CLOSED' });
    await expect(reserveRefund(rt, unpaid, draft(unpaid, 1), 30_000)).rejects.toMatchObject({ code: 'ORDER_NOT_PAID' });

    const many = await paidH5Order(1_000);
    await rt.claims.touch(many.key, { refund_count: 50 });
    await expect(reserveRefund(rt, many, draft(many, 1), 30_000)).rejects.toMatchObject({ code: 'REFUND_LIMIT_REACHED' });

    const strict = flow.runtimeWith({ REFUND_MIN_INTERVAL_SECONDS: '60' });
    const order = await paidH5Order(1_000);
    expect((await reserveRefund(strict, order, draft(order, 100), 30_000)).kind).toBe('reserved');
    await expect(reserveRefund(strict, order, draft(order, 100), 30_000)).rejects.toMatchObject({ code: 'REFUND_TOO_SOON', status: 429 });
    expect(await reservedOn(order)).toBe(100);
  });
});
