import { ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { readFile } from 'node:fs/promises';
import { confirmWithWechat as confirmContractOrder } from '../../shared/contract-order/get-order';
import type { ContractOrderRecord } from '../../shared/contract-order/record';
import { confirmWithWechat as confirmH5 } from '../../shared/h5-payment/get-order';
import type { H5OrderRecord } from '../../shared/h5-payment/record';
import { getPapayContractByCode } from '../../shared/papay/contracts';
import { confirmDeduction } from '../../shared/papay/deductions';
import { confirm as confirmRefund } from '../../shared/refund/get-refund';
import type { RefundRecord } from '../../shared/refund/record';
import { confirmWithWechat as confirmRepaymentContract } from '../../shared/repayment-contract/get-contract';
import type { RepaymentContractRecord } from '../../shared/repayment-contract/record';
import { confirmRepayment } from '../../shared/repayment-contract/repayments';
import type { Runtime } from '../../shared/runtime/container';
import { fromAttributes, type Item } from '../../shared/store/items';
import { keys, type RecordKey } from '../../shared/store/keys';

/**
 * The operator's tools (`npm run ops -- …`): unmatched notifications (kept flagged, without personal data), their
 * re-application after a fix, and one record's history. Re-applying never replays a stored payload: it asks WeChat
 * again with the product's own query and applies the answer through the notification's transition, so it can be
 * run any number of times.
 */

/** The product names unmatched notifications are kept under → the record they are about, and how to ask WeChat. */
const PRODUCTS: Record<string, { key: (businessKey: string) => RecordKey; confirm: (rt: Runtime, record: Item, businessKey: string) => Promise<unknown> }> = {
  H5: { key: keys.h5Order, confirm: (rt, r) => confirmH5(rt, r as H5OrderRecord) },
  CONTRACT_ORDER_PAYMENT: { key: keys.contractOrder, confirm: (rt, r) => confirmContractOrder(rt, r as ContractOrderRecord) },
  CONTRACT_ORDER_CONTRACT: { key: keys.contractCode, confirm: (rt, _r, code) => getPapayContractByCode(rt, code) },
  REFUND: { key: keys.refund, confirm: (rt, r) => confirmRefund(rt, r as RefundRecord) },
  DEDUCTION: { key: keys.deduction, confirm: (rt, _r, no) => confirmDeduction(rt, no) },
  REPAYMENT: { key: keys.repayment, confirm: (rt, _r, no) => confirmRepayment(rt, no) },
  REPAYMENT_CONTRACT: { key: keys.repaymentContract, confirm: (rt, r) => confirmRepaymentContract(rt, r as RepaymentContractRecord, false) },
};

export interface UnmatchedEntry {
  product: string;
  business_key: string;
  event_id: string;
  reason: string;
  received_at: string;
  resolved_at?: string;
}

const iso = (ms: unknown) => (typeof ms === 'number' ? new Date(ms).toISOString() : '');

/** Every unmatched notification (an operator's Scan over the flagged items: rare, and never on a request path). */
export async function listUnmatched(rt: Runtime, product?: string): Promise<UnmatchedEntry[]> {
  const entries: UnmatchedEntry[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await rt.dynamo.send(
      new ScanCommand({
        TableName: rt.config.tableName,
        FilterExpression: 'begins_with(pk, :p)',
        ExpressionAttributeValues: { ':p': { S: product ? `UNMATCHED#${product}#` : 'UNMATCHED#' } },
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    for (const raw of page.Items ?? []) {
      const item = fromAttributes<Item>(raw)!;
      entries.push({
        product: String(item['product']),
        business_key: String(item['business_key']),
        event_id: String(item['event_id']),
        reason: String(item['reason'] ?? ''),
        received_at: iso(item['received_at']),
        ...(item['resolved_at'] ? { resolved_at: iso(item['resolved_at']) } : {}),
      });
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return entries.sort((a, b) => a.received_at.localeCompare(b.received_at));
}

/**
 * Re-applies what an unmatched notification was about, after its cause is fixed (a record restored, a binding
 * corrected): WeChat's own query decides, through the same transition. The unmatched items of that key are marked
 * resolved once the record moved (or already was where WeChat says).
 */
export async function reapply(rt: Runtime, product: string, businessKey: string): Promise<{ before?: string; after?: string; resolved: number }> {
  const p = PRODUCTS[product];
  if (!p) throw new Error(`unknown product ${product}; one of ${Object.keys(PRODUCTS).join(', ')}`);
  const key = p.key(businessKey);
  const record = await rt.claims.get<Item>(key);
  if (!record) throw new Error(`no record ${key.pk}: restore it first, then re-apply`);
  await p.confirm(rt, record, businessKey);
  const after = await rt.claims.get<Item>(key);
  const flagged = (await listUnmatched(rt, product)).filter((e) => e.business_key === businessKey && !e.resolved_at);
  for (const e of flagged) await rt.claims.touch(keys.unmatchedNotification(product, businessKey, e.event_id), { resolved_at: rt.now(), resolved_state: after?.['state'] });
  return { before: String(record['state']), after: String(after?.['state']), resolved: flagged.length };
}

/** One record, as an operator reads it: its state, the notification ids it applied, WeChat's ids, what was flagged. */
export async function history(rt: Runtime, product: string, businessKey: string, eventsFile?: string): Promise<Record<string, unknown>> {
  const p = PRODUCTS[product];
  if (!p) throw new Error(`unknown product ${product}; one of ${Object.keys(PRODUCTS).join(', ')}`);
  const record = await rt.claims.get<Item>(p.key(businessKey));
  if (!record) throw new Error(`no record for ${product} ${businessKey}`);
  const hidden = new Set(['fingerprint', 'lease_token', 'redirect_url', 'h5_url', 'mweb_url', 'code_url', 'pay_params']);
  const fields = Object.fromEntries(Object.entries(record).filter(([name]) => !hidden.has(name)).map(([name, v]) => [name, v instanceof Set ? [...v] : v]));
  const unmatched = (await listUnmatched(rt, product)).filter((e) => e.business_key === businessKey);
  let events: unknown[] = [];
  if (eventsFile) {
    const lines = await readFile(eventsFile, 'utf8').catch(() => '');
    events = lines
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { data: Record<string, unknown> })
      .filter((e) => Object.values(e.data).includes(businessKey));
  }
  return { record: fields, unmatched, events };
}
