import * as v from 'valibot';
import { parseNotification } from '../contract-order/notification';
import { CONTRACT_FORWARD_FROM, type ContractCodeRecord } from '../contract-order/record';
import type { V2NotificationApplier } from '../notify/v2';
import type { Runtime } from '../runtime/container';
import { logger } from '../runtime/logger';
import { keys } from '../store/keys';
import { applyTransition } from '../store/transitions';
import { recordUnmatched } from '../store/unmatched';
import { indexContract, isIndexedContractState } from './contract-index';

/** Unmatched contract events are kept under this product name (shared/store/unmatched.ts). */
export const CONTRACT_PRODUCT = 'CONTRACT_ORDER_CONTRACT';
const present = () => v.pipe(v.string(), v.minLength(1));

/** The v2 signing / termination result at `contract_notify_url` (docs/wechatpay.md, *Pay-and-sign*). */
export const contractNotificationSchema = v.looseObject({
  mch_id: present(),
  contract_code: present(),
  plan_id: present(),
  result_code: v.optional(v.string()),
  change_type: v.picklist(['ADD', 'DELETE']),
  contract_id: present(),
  operate_time: v.optional(v.string()),
  contract_expired_time: v.optional(v.string()),
  contract_termination_mode: v.optional(v.string()),
  request_serial: v.optional(v.string()),
  openid: v.optional(v.string()),
});

/**
 * Signing (`ADD`) or termination (`DELETE`) → the contract code's state, forward only: a DELETE that arrives before
 * its ADD still ends TERMINATED (the late ADD only records when the contract was signed). Bound to our record by
 * mch_id, contract_code and plan_id; event id `contract_id:change_type`.
 */
export function papayContractApplier(rt: Runtime): V2NotificationApplier {
  return async (fields) => {
    const n = parseNotification(contractNotificationSchema, fields, 'contract notification');
    const eventId = `${n.contract_id}:${n.change_type}`;
    const key = keys.contractCode(n.contract_code);
    if (n.result_code !== undefined && n.result_code !== 'SUCCESS') {
      await flag(rt, n, eventId, `result_code ${n.result_code}`);
      return 'ignored';
    }
    const expect = { kind: 'CONTRACT_CODE', mchid: n.mch_id, contract_code: n.contract_code, plan_id: n.plan_id };
    const signed = n.change_type === 'ADD';
    // openid comes from WeChat's notification, never from our own request (papay checklist #12).
    const facts = signed
      ? { contract_id: n.contract_id, signed_at: n.operate_time || undefined, contract_expired_time: n.contract_expired_time || undefined, openid: n.openid || undefined }
      : {
          contract_id: n.contract_id,
          terminated_at: n.operate_time || undefined,
          contract_termination_mode: n.contract_termination_mode || undefined,
          contract_expired_time: n.contract_expired_time || undefined,
        };
    const to = signed ? 'SIGNED' : 'TERMINATED';
    let outcome = await applyTransition<ContractCodeRecord>(rt.dynamo, rt.config.tableName, {
      key,
      to,
      from: CONTRACT_FORWARD_FROM[to],
      eventId,
      now: rt.now(),
      expect,
      set: facts,
    });
    if (signed && outcome.kind === 'superseded' && outcome.record.state === 'TERMINATED') {
      // The ADD was overtaken by its DELETE: keep the state, record the signing facts (once, under the same id).
      outcome = await applyTransition<ContractCodeRecord>(rt.dynamo, rt.config.tableName, {
        key,
        to: 'TERMINATED',
        from: ['TERMINATED'],
        eventId,
        now: rt.now(),
        expect,
        set: { signed_at: facts.signed_at, contract_id: outcome.record.contract_id ?? n.contract_id },
      });
      if (outcome.kind === 'applied') {
        await indexContract(rt, n.contract_id, n.contract_code, 'TERMINATED');
        return 'recorded_late';
      }
    }
    if (outcome.kind === 'unknown' || outcome.kind === 'mismatch') {
      await flag(rt, n, eventId, outcome.kind === 'unknown' ? 'no such contract code' : `differs in ${outcome.fields.join(', ')}`);
    } else if (isIndexedContractState(outcome.record.state)) {
      // After the transition and on every copy of it, so a retried notification repairs what a crash left out.
      await indexContract(rt, n.contract_id, n.contract_code, outcome.record.state);
    }
    return outcome.kind;
  };
}

async function flag(rt: Runtime, n: v.InferOutput<typeof contractNotificationSchema>, eventId: string, reason: string): Promise<void> {
  logger.warn('unmatched contract event', { product: CONTRACT_PRODUCT, contract_code: n.contract_code, event_id: eventId, reason });
  await recordUnmatched(rt, CONTRACT_PRODUCT, n.contract_code, eventId, {
    reason,
    change_type: n.change_type,
    contract_id: n.contract_id,
    mch_id: n.mch_id,
    plan_id: n.plan_id,
    result_code: n.result_code,
    operate_time: n.operate_time,
  });
}
