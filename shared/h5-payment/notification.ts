import * as v from 'valibot';
import { UnusableNotificationError, type V3NotificationApplier } from '../notify/v3';
import type { Runtime } from '../runtime/container';
import { applyTransaction, transactionSchema } from './transaction';

export const H5_EVENT_TYPES = ['TRANSACTION.SUCCESS'] as const;

/** `TRANSACTION.SUCCESS` at `/notify/h5-payment`: the paid order, applied once whatever is redelivered. */
export function h5PaymentApplier(rt: Runtime): V3NotificationApplier {
  return async (notification) => {
    const parsed = v.safeParse(transactionSchema, notification.resource);
    if (!parsed.success) {
      const fields = parsed.issues.map((issue) => v.getDotPath(issue) ?? 'resource').join(', ');
      throw new UnusableNotificationError(`transaction is missing or has invalid ${fields}`);
    }
    return applyTransaction(rt, parsed.output, notification.id);
  };
}
