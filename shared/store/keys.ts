/** Primary keys of every record kind, in one place so no two products can collide. */
export interface RecordKey {
  pk: string;
  sk: string;
}

export const keys = {
  h5Order: (outTradeNo: string): RecordKey => ({ pk: `H5#${outTradeNo}`, sk: 'ORDER' }),
  repaymentContract: (outContractCode: string): RecordKey => ({ pk: `CONTRACT#${outContractCode}`, sk: 'CONTRACT' }),
  contractOrder: (outTradeNo: string): RecordKey => ({ pk: `PAPORDER#${outTradeNo}`, sk: 'ORDER' }),
  contractCode: (contractCode: string): RecordKey => ({ pk: `PAPCODE#${contractCode}`, sk: 'CODE' }),
  /** An authentic notification we could not match to a record: kept, flagged, never dropped. */
  unmatchedNotification: (product: string, businessKey: string, notificationId: string): RecordKey => ({
    pk: `UNMATCHED#${product}#${businessKey}`,
    sk: `NOTIFY#${notificationId}`,
  }),
  /** The first repayment of a credit-repayment presign (`trade_info.out_trade_no`): its result, and its contract. */
  repayment: (outTradeNo: string): RecordKey => ({ pk: `REPAY#${outTradeNo}`, sk: 'REPAYMENT' }),
  /** A credit-repayment schedule record (schedule-records/batch-create), by the lender's out_record_id. */
  repaymentSchedule: (outRecordId: string): RecordKey => ({ pk: `SCHEDULE#${outRecordId}`, sk: 'SCHEDULE' }),
  /** WeChat's contract_id → our out_contract_code, for notifications that carry only the former. */
  repaymentContractId: (contractId: string): RecordKey => ({ pk: `CONTRACTID#${contractId}`, sk: 'CONTRACT' }),
  /** WeChat's papay contract_id → our contract_code (`PAPCODE#`), written by the contract notification. */
  papayContractId: (contractId: string): RecordKey => ({ pk: `PAPCONTRACT#${contractId}`, sk: 'CONTRACT' }),
  /** A papay deduction (`/pay/pappayapply`), by its out_trade_no. */
  deduction: (outTradeNo: string): RecordKey => ({ pk: `PAPDEDUCT#${outTradeNo}`, sk: 'DEDUCTION' }),
  /** A refund, by the merchant's out_refund_no (unique per merchant across both refund protocols). */
  refund: (outRefundNo: string): RecordKey => ({ pk: `REFUND#${outRefundNo}`, sk: 'REFUND' }),
  /** One day's reconciliation: its run (`RUN`) and each difference (`DIFF#<kind>#<key>`). */
  reconciliationRun: (day: string): RecordKey => ({ pk: `RECON#${day}`, sk: 'RUN' }),
  reconciliationDifference: (day: string, kind: string, key: string): RecordKey => ({ pk: `RECON#${day}`, sk: `DIFF#${kind}#${key}` }),
  /** A queued presign refused before it could own its out_contract_code (unreadable code, or the code is taken). */
  presignMessageRejection: (messageId: string): RecordKey => ({ pk: `PRESIGNMSG#${messageId}`, sk: 'REJECTED' }),
};
