import { contractOrderContractApplier } from '../../shared/contract-order';
import { v2NotifyHandler } from '../../shared/notify/v2';

export const handler = v2NotifyHandler('notify-contract-order-contract', (rt) => ({
  role: 'direct',
  apply: contractOrderContractApplier(rt),
}));
