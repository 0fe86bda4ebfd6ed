import { CONTRACT_EVENT_TYPES, repaymentContractApplier } from '../../shared/repayment-contract';
import { v3NotifyHandler } from '../../shared/notify/handler';

export const handler = v3NotifyHandler('notify-repayment-contract', (rt) => ({
  role: 'partner',
  eventTypes: CONTRACT_EVENT_TYPES,
  apply: repaymentContractApplier(rt),
}));
