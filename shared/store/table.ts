import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

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
    ],
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: SETTLED_DAY_INDEX,
        KeySchema: [
          { AttributeName: SETTLED_DAY, KeyType: 'HASH' },
          { AttributeName: 'pk', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
    ],
    StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
  };
}
