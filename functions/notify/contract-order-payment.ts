import { contractOrderPaymentApplier } from '../../shared/contract-order';
import { v2NotifyHandler } from '../../shared/notify/v2';

export const handler = v2NotifyHandler('notify-contract-order-payment', (rt) => ({
  role: 'direct',
  apply: contractOrderPaymentApplier(rt),
}));
