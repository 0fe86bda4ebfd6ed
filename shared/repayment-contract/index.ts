export { presignRepaymentContract, CONTRACT_CODE_USED, PRESIGN_EXPIRED, OUT_TRADE_NO_USED } from './presign';
export { presignBatch, presignFromQueue, type QueueOutcome } from './queue';
export { getRepaymentContract } from './get-contract';
export {
  repaymentContractApplier,
  repaymentApplier,
  CONTRACT_EVENT_TYPES,
  REPAYMENT_EVENT_TYPES,
} from './notification';
export { CONTRACT_NOTIFY_PATH, REPAYMENT_NOTIFY_PATH } from './wechat-request';
export { maskName, isValidIdCard } from './identity';
export { terminateRepaymentContract } from './terminate';
export { createRepayment, createSchedule, getRepayment, getSchedule } from './repayments';
