import { v3NotifyHandler } from '../../shared/notify/handler';
import { REFUND_EVENT_TYPES, refundV3Applier } from '../../shared/refund';

export const handler = v3NotifyHandler('notify-refund', (rt) => ({
  role: 'direct',
  eventTypes: REFUND_EVENT_TYPES,
  apply: refundV3Applier(rt),
}));
