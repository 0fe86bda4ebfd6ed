import { v2NotifyHandler } from '../../shared/notify/v2';
import { deductionApplier } from '../../shared/papay';

export const handler = v2NotifyHandler('notify-deduction', (rt) => ({
  role: 'direct',
  apply: deductionApplier(rt),
}));
