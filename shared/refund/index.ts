export { createRefund } from './create-refund';
export { getRefund } from './get-refund';
export { refundV2Applier, refundV3Applier, REFUND_EVENT_TYPES } from './notification';
export { orderRefundsView } from './record';
export { refundsOf } from './orders';
