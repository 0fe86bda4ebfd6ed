import { papayContractApplier } from '../../shared/papay/contract-notification';
import { v2NotifyHandler } from '../../shared/notify/v2';

export const handler = v2NotifyHandler('notify-contract-order-contract', (rt) => ({
  role: 'direct',
  apply: papayContractApplier(rt),
}));
