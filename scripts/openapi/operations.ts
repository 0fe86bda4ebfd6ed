import type { GenericSchema } from 'valibot';
import type { ProtectedRouteKey } from '../../shared/auth/scopes';
import { createContractOrderSchema } from '../../shared/contract-order/schema';
import { createH5OrderSchema } from '../../shared/h5-payment/schema';
import { createDeductionSchema, preDeductionNoticeSchema, terminateContractSchema } from '../../shared/papay/schema';
import { createRefundSchema } from '../../shared/refund/schema';
import { createRepaymentContractSchema, createRepaymentSchema, createScheduleSchema, terminateRepaymentContractSchema } from '../../shared/repayment-contract/schema';
import {
  contractOrderAnswerSchema,
  contractOrderSchema,
  deductionSchema,
  h5OrderSchema,
  papayContractSchema,
  preNoticeSchema,
  presignAnswerSchema,
  reconciliationSchema,
  repaymentSchema,
  scheduleSchema,
  refundSchema,
  repaymentContractSchema,
} from './responses';

/** One merchant route: what it takes and what it answers (its scope comes from shared/auth/scopes.ts). */
export interface MerchantOperation {
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  request?: { name: string; schema: GenericSchema; example: unknown };
  /** The success status and the component its body is. */
  success: { status: 200 | 201; name: string; schema: GenericSchema };
  /** Problem statuses beside 400/401/403/500, which every merchant route can answer. */
  errors: number[];
  /** Creates answer a replay of the same request with the stored answer and `Idempotent-Replayed: true`. */
  idempotent?: boolean;
}

/** Path parameters and the characters WeChat allows in each. */
export const PATH_PARAMETERS: Record<string, { pattern: string; description: string }> = {
  out_trade_no: { pattern: '^[0-9A-Za-z_\\-|*]{1,32}$', description: 'the merchant order number' },
  out_record_id: { pattern: '^[0-9A-Za-z]{1,32}$', description: 'the lender\'s schedule record id' },
  date: { pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'a Beijing day, YYYY-MM-DD' },
  out_refund_no: { pattern: '^[0-9A-Za-z_\\-|*@]{1,64}$', description: 'the merchant refund number' },
  out_contract_code: { pattern: '^[0-9A-Za-z]{1,64}$', description: 'the lender\'s contract code' },
  contract_id: { pattern: '^[0-9A-Za-z_-]{1,32}$', description: 'WeChat\'s papay contract id' },
  contract_code: { pattern: '^[0-9A-Za-z]{1,64}$', description: 'the pay-and-sign request\'s contract code' },
};

const h5Example = {
  out_trade_no: 'H5202612030001',
  description: '会员月卡',
  amount: { total: 1999 },
  scene_info: { payer_client_ip: '203.0.113.7', h5_info: { type: 'Wap' } },
};

/** Every merchant route, keyed exactly as shared/auth/scopes.ts keys it (a test keeps the two in step). */
export const MERCHANT_OPERATIONS: Record<ProtectedRouteKey, MerchantOperation> = {
  'POST /h5-orders': {
    operationId: 'createH5Order',
    tag: 'H5 payments',
    summary: 'Create an H5 order (APIv3 /v3/pay/transactions/h5)',
    description: 'Idempotent on out_trade_no: the same body again answers the stored order (renewing an expired h5_url); a different body is 409.',
    request: { name: 'CreateH5Order', schema: createH5OrderSchema, example: h5Example },
    success: { status: 201, name: 'H5Order', schema: h5OrderSchema },
    errors: [409, 415, 422, 429, 502, 503],
    idempotent: true,
  },
  'GET /h5-orders/{out_trade_no}': {
    operationId: 'getH5Order',
    tag: 'H5 payments',
    summary: 'An H5 order; an old unpaid one is first confirmed with WeChat\'s query',
    success: { status: 200, name: 'H5Order', schema: h5OrderSchema },
    errors: [404],
  },
  'POST /h5-orders/{out_trade_no}/close': {
    operationId: 'closeH5Order',
    tag: 'H5 payments',
    summary: 'Close an unpaid H5 order (confirmed by a query)',
    success: { status: 200, name: 'H5Order', schema: h5OrderSchema },
    errors: [404, 409, 502, 503],
  },
  'POST /repayment-contracts': {
    operationId: 'createRepaymentContract',
    tag: 'Credit repayment',
    summary: 'Presign a credit-repayment contract (partner APIv3); real-name fields are encrypted, never stored in plain text',
    request: {
      name: 'CreateRepaymentContract',
      schema: createRepaymentContractSchema,
      example: {
        plan_id: 'PLAN_REPAY_001',
        out_contract_code: 'RC202612030001',
        repayment_day: 5,
        repayment_amount_limit: '10000',
        real_identity: { identity_type: 'REAL_IDENTITY_TYPE_ID_CARD', identity_id: '11010519491231002X', real_name: '欧阳娜娜' },
      },
    },
    success: { status: 201, name: 'PresignAnswer', schema: presignAnswerSchema },
    errors: [409, 415, 422, 502, 503],
    idempotent: true,
  },
  'GET /repayment-contracts/{out_contract_code}': {
    operationId: 'getRepaymentContract',
    tag: 'Credit repayment',
    summary: 'A credit-repayment contract and its repayments; a late notification is confirmed with the query API',
    success: { status: 200, name: 'RepaymentContract', schema: repaymentContractSchema },
    errors: [404],
  },
  'POST /repayment-contracts/{out_contract_code}/terminate': {
    operationId: 'terminateRepaymentContract',
    tag: 'Credit repayment',
    summary: 'End a signed credit-repayment contract (partner contracts/terminate); idempotent, an ended one is answered as it is',
    request: { name: 'TerminateRepaymentContract', schema: terminateRepaymentContractSchema, example: { remark: '贷款已结清' } },
    success: { status: 200, name: 'RepaymentContract', schema: repaymentContractSchema },
    errors: [404, 409, 415, 422, 502, 503],
  },
  'POST /repayment-contracts/{out_contract_code}/schedules': {
    operationId: 'createRepaymentSchedule',
    tag: 'Credit repayment',
    summary: 'Schedule a repayment (partner schedule-records/batch-create, one item); the date must be tomorrow to 14 days ahead (Beijing)',
    request: { name: 'CreateRepaymentSchedule', schema: createScheduleSchema, example: { out_record_id: 'SR202612030001', repayment_amount: '5000', repayment_date: '2026-12-10' } },
    success: { status: 201, name: 'RepaymentSchedule', schema: scheduleSchema },
    errors: [404, 409, 415, 422, 502, 503],
    idempotent: true,
  },
  'GET /repayment-contracts/{out_contract_code}/schedules/{out_record_id}': {
    operationId: 'getRepaymentSchedule',
    tag: 'Credit repayment',
    summary: 'A scheduled repayment',
    success: { status: 200, name: 'RepaymentSchedule', schema: scheduleSchema },
    errors: [404, 422, 503],
  },
  'POST /repayment-contracts/{out_contract_code}/repayments': {
    operationId: 'createRepayment',
    tag: 'Credit repayment',
    summary: 'Start a repayment of a scheduled record (partner deduct-orders); accepted is not repaid yet',
    request: { name: 'CreateRepayment', schema: createRepaymentSchema, example: { out_trade_no: 'RP202612030001', out_record_id: 'SR202612030001', deduct_amount: '5000', description: '第2期还款' } },
    success: { status: 201, name: 'Repayment', schema: repaymentSchema },
    errors: [404, 409, 415, 422, 502, 503],
    idempotent: true,
  },
  'GET /repayment-contracts/{out_contract_code}/repayments/{out_trade_no}': {
    operationId: 'getRepayment',
    tag: 'Credit repayment',
    summary: 'A repayment; one not final after a while is first confirmed with the deduct-order query',
    success: { status: 200, name: 'Repayment', schema: repaymentSchema },
    errors: [404, 422, 503],
  },
  'POST /contract-orders': {
    operationId: 'createContractOrder',
    tag: 'Pay-and-sign',
    summary: 'Pay and sign a papay contract in one order (APIv2 /pay/contractorder)',
    request: {
      name: 'CreateContractOrder',
      schema: createContractOrderSchema,
      example: {
        out_trade_no: 'P202612030001',
        body: '会员月卡',
        total_fee: 2500,
        spbill_create_ip: '203.0.113.9',
        trade_type: 'MWEB',
        plan_id: 12535,
        contract_code: 'K202612030001',
        request_serial: 1,
        contract_display_account: '会员',
      },
    },
    success: { status: 201, name: 'ContractOrderAnswer', schema: contractOrderAnswerSchema },
    errors: [409, 415, 422, 502, 503],
    idempotent: true,
  },
  'GET /contract-orders/{out_trade_no}': {
    operationId: 'getContractOrder',
    tag: 'Pay-and-sign',
    summary: 'A pay-and-sign order: its payment and its contract',
    success: { status: 200, name: 'ContractOrder', schema: contractOrderSchema },
    errors: [404],
  },
  'POST /contract-orders/{out_trade_no}/close': {
    operationId: 'closeContractOrder',
    tag: 'Pay-and-sign',
    summary: 'Close an unpaid pay-and-sign order (not within 5 minutes of its creation)',
    success: { status: 200, name: 'ContractOrder', schema: contractOrderSchema },
    errors: [404, 409, 422, 429, 502, 503],
  },
  'POST /refunds': {
    operationId: 'createRefund',
    tag: 'Refunds',
    summary: 'Refund a paid H5 order (APIv3), pay-and-sign order or papay deduction (APIv2, mutual TLS)',
    description: 'The amount is reserved against the order in one transaction: refunds never exceed what was paid.',
    request: { name: 'CreateRefund', schema: createRefundSchema, example: { out_trade_no: 'H5202612030001', out_refund_no: 'R202612030001', amount: { refund: 999 } } },
    success: { status: 201, name: 'Refund', schema: refundSchema },
    errors: [404, 409, 415, 422, 429, 502, 503],
    idempotent: true,
  },
  'GET /refunds/{out_refund_no}': {
    operationId: 'getRefund',
    tag: 'Refunds',
    summary: 'A refund; a pending one is first confirmed with the refund query',
    success: { status: 200, name: 'Refund', schema: refundSchema },
    errors: [404],
  },
  'GET /papay-contracts/{contract_id}': {
    operationId: 'getPapayContract',
    tag: 'Papay',
    summary: 'A papay contract by WeChat\'s contract_id (queried from WeChat when its notification is late)',
    success: { status: 200, name: 'PapayContract', schema: papayContractSchema },
    errors: [404],
  },
  'GET /papay-contracts/by-code/{contract_code}': {
    operationId: 'getPapayContractByCode',
    tag: 'Papay',
    summary: 'A papay contract by our contract code',
    success: { status: 200, name: 'PapayContract', schema: papayContractSchema },
    errors: [404],
  },
  'POST /papay-contracts/{contract_id}/terminate': {
    operationId: 'terminatePapayContract',
    tag: 'Papay',
    summary: 'End a papay contract (APIv2 /papay/deletecontract); idempotent',
    request: { name: 'TerminatePapayContract', schema: terminateContractSchema, example: { reason: '用户申请解约' } },
    success: { status: 200, name: 'PapayContract', schema: papayContractSchema },
    errors: [404, 409, 415, 422, 502, 503],
  },
  'POST /papay-contracts/{contract_id}/pre-deduction-notice': {
    operationId: 'sendPreDeductionNotice',
    tag: 'Papay',
    summary: 'Send the APIv3 pre-deduction notice (07:00–22:00 Beijing time; none within 12 hours of signing)',
    request: { name: 'PreDeductionNotice', schema: preDeductionNoticeSchema, example: { estimated_amount: 990 } },
    success: { status: 200, name: 'PreDeductionNotice', schema: preNoticeSchema },
    errors: [404, 409, 415, 422, 502, 503],
  },
  'POST /deductions': {
    operationId: 'createDeduction',
    tag: 'Papay',
    summary: 'Charge a signed papay contract (APIv2 /pay/pappayapply); accepted is not charged yet',
    description: 'Refused before WeChat is called: a contract not SIGNED, outside 07:00–22:00 Beijing time, an out_trade_no any order holds.',
    request: { name: 'CreateDeduction', schema: createDeductionSchema, example: { contract_id: 'Wx15463511252015071056489715', out_trade_no: 'D202612030001', total_fee: 990, body: '月卡续费' } },
    success: { status: 201, name: 'Deduction', schema: deductionSchema },
    errors: [404, 409, 415, 422, 502, 503],
    idempotent: true,
  },
  'GET /deductions/{out_trade_no}': {
    operationId: 'getDeduction',
    tag: 'Papay',
    summary: 'A deduction; an old accepted one is first confirmed with /pay/paporderquery',
    success: { status: 200, name: 'Deduction', schema: deductionSchema },
    errors: [404],
  },
  'POST /deductions/{out_trade_no}/close': {
    operationId: 'closeDeduction',
    tag: 'Papay',
    summary: 'Query, then close a deduction whose outcome is unknown, before trying a new number (papay checklist #15)',
    success: { status: 200, name: 'Deduction', schema: deductionSchema },
    errors: [404, 409, 422, 429, 502, 503],
  },
  'GET /reconciliation/{date}': {
    operationId: 'getReconciliation',
    tag: 'Reconciliation',
    summary: 'A day\'s reconciliation against WeChat\'s trade bill: its run and every difference (checklist G7)',
    success: { status: 200, name: 'Reconciliation', schema: reconciliationSchema },
    errors: [404],
  },
};

/** The routes WeChat Pay calls: signed by WeChat, never by a merchant token. */
export const NOTIFY_OPERATIONS: { path: string; operationId: string; summary: string; format: 'v3' | 'v2' }[] = [
  { path: '/notify/h5-payment', operationId: 'notifyH5Payment', summary: 'H5 payment result (TRANSACTION.SUCCESS)', format: 'v3' },
  { path: '/notify/repayment-contract', operationId: 'notifyRepaymentContract', summary: 'Credit-repayment contract signed / ended', format: 'v3' },
  { path: '/notify/repayment', operationId: 'notifyRepayment', summary: 'Credit-repayment repayment result (CREDIT_REPAYMENT.DEDUCTION_PAY)', format: 'v3' },
  { path: '/notify/refund', operationId: 'notifyRefund', summary: 'H5 refund result (REFUND.*)', format: 'v3' },
  { path: '/notify/contract-order/payment', operationId: 'notifyContractOrderPayment', summary: 'Pay-and-sign payment result', format: 'v2' },
  { path: '/notify/contract-order/contract', operationId: 'notifyContractOrderContract', summary: 'Papay contract signed (ADD) or ended (DELETE)', format: 'v2' },
  { path: '/notify/contract-order/refund', operationId: 'notifyContractOrderRefund', summary: 'APIv2 refund result (req_info, AES-256-ECB)', format: 'v2' },
  { path: '/notify/deduction', operationId: 'notifyDeduction', summary: 'Papay deduction result', format: 'v2' },
];
