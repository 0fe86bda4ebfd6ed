import { REPAYMENT_EVENT_TYPES, repaymentApplier } from '../../shared/repayment-contract';
import { v3NotifyHandler } from '../../shared/notify/handler';

export const handler = v3NotifyHandler('notify-repayment', (rt) => ({
  role: 'partner',
  eventTypes: REPAYMENT_EVENT_TYPES,
  apply: repaymentApplier(rt),
}));
