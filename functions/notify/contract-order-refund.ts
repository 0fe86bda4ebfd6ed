import { v2NotifyHandler } from '../../shared/notify/v2';
import { refundV2Applier } from '../../shared/refund';

export const handler = v2NotifyHandler('notify-contract-order-refund', (rt) => ({
  role: 'direct',
  authenticate: 'req_info',
  apply: refundV2Applier(rt),
}));
