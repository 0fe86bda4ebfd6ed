import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export interface DynamoConfig {
  endpoint?: string;
  region?: string;
}

/** One client per container: it holds the keep-alive connection pool that warm invocations reuse. */
export function createDynamoClient({ endpoint, region }: DynamoConfig = {}): DynamoDBClient {
  return new DynamoDBClient({
    ...(endpoint ? { endpoint } : {}),
    ...(region ? { region } : {}),
    // Our own calls already retry at the business level; two SDK retries cover throttling blips.
    maxAttempts: 3,
  });
}
