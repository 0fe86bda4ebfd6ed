export { getPapayContract, getPapayContractByCode, terminatePapayContract } from './contracts';
export { createDeduction, deductionApplier, getDeduction } from './deductions';
export { closeDeduction } from './close-deduction';
export { sendPreDeductionNotice } from './pre-notice';
export { papayContractApplier } from './contract-notification';
