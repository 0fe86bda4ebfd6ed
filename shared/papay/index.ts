export { getPapayContract, getPapayContractByCode, terminatePapayContract } from './contracts';
export { createDeduction, deductionApplier, getDeduction } from './deductions';
export { sendPreDeductionNotice } from './pre-notice';
