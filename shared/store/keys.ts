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
};
