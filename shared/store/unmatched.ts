import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { Runtime } from '../runtime/container';
import { toAttributes, type Item } from './items';
import { keys } from './keys';

/**
 * Keeps an authentic WeChat event that matches none of our records (unknown key, or mchid/appid/amount differ),
 * flagged for a person to look at. Idempotent: the same event lands on the same item.
 */
export async function recordUnmatched(rt: Runtime, product: string, businessKey: string, eventId: string, details: Item): Promise<void> {
  await rt.dynamo.send(
    new PutItemCommand({
      TableName: rt.config.tableName,
      Item: toAttributes({
        ...keys.unmatchedNotification(product, businessKey, eventId),
        kind: 'UNMATCHED_EVENT',
        flagged: true,
        product,
        business_key: businessKey,
        event_id: eventId,
        received_at: rt.now(),
        ...details,
      }),
    }),
  );
}
