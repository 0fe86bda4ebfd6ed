export { createContractOrder, type CreateContractOrderResult } from './create-order';
export { getContractOrder } from './get-order';
export { closeContractOrder } from './close-order';
export { contractOrderPaymentApplier } from './notification';
export { payParams, type AppPayParams, type JsapiPayParams, type PayParams } from './pay-params';
export { createContractOrderSchema, type CreateContractOrderInput } from './schema';
export { CONTRACT_NOTIFY_PATH, CONTRACT_ORDER_PATH, PAYMENT_NOTIFY_PATH } from './wechat-request';
