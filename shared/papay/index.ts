export { getPapayContract, terminatePapayContract } from './contracts';
export { createDeduction, deductionApplier, getDeduction } from './deductions';
