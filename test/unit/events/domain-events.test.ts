import { describe, expect, it } from 'vitest';
import { domainEventOf, DOMAIN_EVENT_TYPES } from '../../../shared/events/domain-events';
import { publishStreamBatch, type EventPublisher } from '../../../shared/events/publisher';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';

const base = { pk: 'X#1', sk: 'S', updated_at: 1_764_720_000_000 };
/** Every forward transition of every product, and the event each must make. */
const CASES: [string, Record<string, unknown>, string, string][] = [
  ['H5_ORDER', { out_trade_no: 'A1', amount_total: 100 }, 'SUCCESS', 'payment.succeeded'],
  ['H5_ORDER', { out_trade_no: 'A1' }, 'PAYERROR', 'payment.failed'],
  ['H5_ORDER', { out_trade_no: 'A1' }, 'CLOSED', 'payment.closed'],
  ['CONTRACT_ORDER', { out_trade_no: 'P1', total_fee: 2500 }, 'SUCCESS', 'payment.succeeded'],
  ['CONTRACT_ORDER', { out_trade_no: 'P1' }, 'CLOSED', 'payment.closed'],
  ['CONTRACT_CODE', { contract_code: 'K1', contract_id: 'W1' }, 'SIGNED', 'contract.signed'],
  ['CONTRACT_CODE', { contract_code: 'K1' }, 'TERMINATED', 'contract.terminated'],
  ['REPAYMENT_CONTRACT', { out_contract_code: 'C1' }, 'SIGNED', 'contract.signed'],
  ['REPAYMENT_CONTRACT', { out_contract_code: 'C1' }, 'TERMINATED', 'contract.terminated'],
  ['REPAYMENT_CONTRACT', { out_contract_code: 'C1' }, 'EXPIRED', 'contract.expired'],
  ['DEDUCTION', { out_trade_no: 'D1', total_fee: 990 }, 'SUCCESS', 'deduction.succeeded'],
  ['DEDUCTION', { out_trade_no: 'D1' }, 'PAY_FAIL', 'deduction.failed'],
  ['DEDUCTION', { out_trade_no: 'D1' }, 'CLOSED', 'deduction.closed'],
  ['REFUND', { out_refund_no: 'R1', amount_refund: 50 }, 'SUCCESS', 'refund.succeeded'],
  ['REFUND', { out_refund_no: 'R1' }, 'ABNORMAL', 'refund.abnormal'],
  ['REFUND', { out_refund_no: 'R1' }, 'CLOSED', 'refund.closed'],
  ['REPAYMENT', { out_trade_no: 'T1', deduct_amount: '5000' }, 'PAY_SUCCESS', 'repayment.succeeded'],
  ['REPAYMENT', { out_trade_no: 'T1' }, 'PAY_FAIL', 'repayment.failed'],
];

describe('domain events from stream images', () => {
  it.each(CASES)('%s → %s: exactly one %s', (kind, fields, state, type) => {
    const before = { ...base, kind, ...fields, state: 'PENDING' };
    const after = { ...base, kind, ...fields, state };
    const event = domainEventOf(before, after);
    expect(event).toMatchObject({ type, version: 1, data: { state, ...fields } });
    expect(event!.occurred_at).toMatch(/\+08:00$/);
    // The same change delivered again (a stream retry) has the same id; a write that changes no state has none.
    expect(domainEventOf(before, after)!.id).toBe(event!.id);
    expect(domainEventOf(after, { ...after, updated_at: 2 })).toBeUndefined();
  });

  it('a first insert in a final state is an event too; claims and unknown kinds are none', () => {
    expect(domainEventOf(undefined, { ...base, kind: 'DEDUCTION', state: 'SUCCESS' })?.type).toBe('deduction.succeeded');
    expect(domainEventOf(undefined, { ...base, kind: 'H5_ORDER', state: 'CREATING' })).toBeUndefined();
    expect(domainEventOf(undefined, { ...base, kind: 'UNMATCHED', state: 'SUCCESS' })).toBeUndefined();
    expect(domainEventOf({ ...base, kind: 'H5_ORDER', state: 'SUCCESS' }, undefined)).toBeUndefined();
  });

  it('a reconciliation difference is announced once, when first found', () => {
    const diff = { pk: 'RECON#2026-12-03', sk: 'DIFF#NOT_RECORDED#PAY:A1', kind: 'RECONCILIATION_DIFFERENCE', difference: 'NOT_RECORDED', key: 'PAY:A1', out_trade_no: 'A1', found_at: 1 };
    expect(domainEventOf(undefined, diff)).toMatchObject({ type: 'reconciliation.difference', data: { date: '2026-12-03', difference: 'NOT_RECORDED', out_trade_no: 'A1' } });
    expect(domainEventOf(diff, { ...diff, found_at: 2 })).toBeUndefined();
  });

  it('carries no personal data', () => {
    const event = domainEventOf(
      { ...base, kind: 'REPAYMENT_CONTRACT', state: 'PRESIGNED' },
      { ...base, kind: 'REPAYMENT_CONTRACT', state: 'SIGNED', out_contract_code: 'C1', openid: 'o-secret', display_name: '*飞', real_name: '岳飞', identity_id: '510107199202283610', payer_openid: 'o2' },
    );
    expect(JSON.stringify(event)).not.toMatch(/o-secret|岳飞|5101071992|\*飞|o2/);
  });

  it('every type is covered by a case', () => {
    const covered = new Set([...CASES.map((c) => c[3]), 'reconciliation.difference']);
    expect(DOMAIN_EVENT_TYPES.filter((t) => !covered.has(t))).toEqual([]);
  });

  it('a stream batch publishes one event per state change, and reports the first unpublished record for redelivery', async () => {
    const record = (seq: string, oldImage: object | undefined, newImage: object) => ({
      eventName: 'MODIFY',
      dynamodb: { SequenceNumber: seq, ...(oldImage ? { OldImage: marshall(oldImage) } : {}), NewImage: marshall(newImage) },
    });
    const h5 = { ...base, kind: 'H5_ORDER', out_trade_no: 'A1' };
    const batch = {
      Records: [
        record('1', { ...h5, state: 'NOTPAY' }, { ...h5, state: 'SUCCESS' }),
        record('2', { ...h5, state: 'SUCCESS' }, { ...h5, state: 'SUCCESS', updated_at: 5 }), // a replayed notification: no change
        record('3', { ...h5, pk: 'X#2', state: 'NOTPAY' }, { ...h5, pk: 'X#2', state: 'CLOSED' }),
      ],
    } as unknown as DynamoDBStreamEvent;
    const sent: string[] = [];
    const ok: EventPublisher = { publish: async (events) => void sent.push(...events.map((e) => e.type)) };
    expect(await publishStreamBatch(batch, ok)).toEqual({ batchItemFailures: [] });
    expect(sent).toEqual(['payment.succeeded', 'payment.closed']);
    let calls = 0;
    const flaky: EventPublisher = { publish: async () => { if (++calls === 2) throw new Error('throttled'); } };
    expect(await publishStreamBatch(batch, flaky)).toEqual({ batchItemFailures: [{ itemIdentifier: '3' }] });
  });
});
