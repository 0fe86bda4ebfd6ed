export { createH5Order, H5_NOTIFY_PATH } from './create-order';
export { getH5Order } from './get-order';
export { closeH5Order } from './close-order';
export { h5PaymentApplier, H5_EVENT_TYPES } from './notification';
