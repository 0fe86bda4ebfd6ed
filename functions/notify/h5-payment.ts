import { H5_EVENT_TYPES, h5PaymentApplier } from '../../shared/h5-payment';
import { v3NotifyHandler } from '../../shared/notify/handler';

export const handler = v3NotifyHandler('notify-h5-payment', (rt) => ({
  role: 'direct',
  eventTypes: H5_EVENT_TYPES,
  apply: h5PaymentApplier(rt),
}));
