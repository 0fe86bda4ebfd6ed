import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { PENDING_AT, PENDING_INDEX, PENDING_PK } from './pending';

/**
 * The one table every product shares. serverless.yml declares the same shape for the cloud;
 * this copy creates it on DynamoDB Local, and a test keeps the two in step.
 */
export const TTL_ATTRIBUTE = 'expires_at';
/** The sparse index of settled money movements by Beijing day (shared/reconciliation). */
export const SETTLED_DAY_INDEX = 'by_settled_day';
export const SETTLED_DAY = 'settled_day';

export function tableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
      { AttributeName: SETTLED_DAY, AttributeType: 'S' },
      { AttributeName: PENDING_PK, AttributeType: 'S' },
      { AttributeName: PENDING_AT, AttributeType: 'N' },
    ],
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      // Sparse: only settled payments, deductions and refunds carry settled_day (shared/reconciliation).
      {
        IndexName: SETTLED_DAY_INDEX,
        KeySchema: [
          { AttributeName: SETTLED_DAY, KeyType: 'HASH' },
          { AttributeName: 'pk', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
      // Sparse: only records in a non-final state carry its keys (shared/store/pending.ts). Keys only: the sweeper
      // reads each record itself when it takes its lease.
      {
        IndexName: PENDING_INDEX,
        KeySchema: [
          { AttributeName: PENDING_PK, KeyType: 'HASH' },
          { AttributeName: PENDING_AT, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
    ],
    StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
  };
}
