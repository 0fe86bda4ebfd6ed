import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import type { Item } from '../store/items';
import { logger } from '../runtime/logger';
import { domainEventOf, EVENT_SOURCE, type DomainEvent } from './domain-events';

/** Where domain events go: EventBridge when deployed, the local stack's log and file when run by `npm start`. */
export interface EventPublisher {
  /** Publishes all of them or throws (the stream then delivers the batch again: at least once). */
  publish(events: readonly DomainEvent[]): Promise<void>;
}

export class EventBridgePublisher implements EventPublisher {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
  ) {}

  async publish(events: readonly DomainEvent[]): Promise<void> {
    for (let i = 0; i < events.length; i += 10) {
      const batch = events.slice(i, i + 10);
      const out = await this.client.send(
        new PutEventsCommand({
          Entries: batch.map((e) => ({ EventBusName: this.busName, Source: EVENT_SOURCE, DetailType: e.type, Detail: JSON.stringify(e) })),
        }),
      );
      if ((out.FailedEntryCount ?? 0) > 0) throw new Error(`EventBridge refused ${out.FailedEntryCount} of ${batch.length} events`);
    }
  }
}

/** A stream image (DynamoDB JSON) as a plain item. */
export function imageOf(image: Record<string, unknown> | undefined): Item | undefined {
  return image ? (unmarshall(image as Record<string, AttributeValue>) as Item) : undefined;
}

/**
 * One stream batch → events, in stream order. A record whose event cannot be published is reported as the batch
 * item failure (and so is everything after it on its shard, as Lambda requires): the stream delivers it again, and
 * the event keeps its id, so consumers see it at least once and can dedupe.
 */
export async function publishStreamBatch(event: DynamoDBStreamEvent, publisher: EventPublisher): Promise<DynamoDBBatchResponse> {
  for (const record of event.Records) {
    const domainEvent = domainEventOf(imageOf(record.dynamodb?.OldImage), imageOf(record.dynamodb?.NewImage));
    if (!domainEvent) continue;
    try {
      await publisher.publish([domainEvent]);
      logger.info('domain event published', { type: domainEvent.type, id: domainEvent.id });
    } catch (error) {
      logger.warn('domain event not published', { type: domainEvent.type, id: domainEvent.id, error: error instanceof Error ? error.message : 'unknown' });
      return { batchItemFailures: [{ itemIdentifier: record.dynamodb?.SequenceNumber ?? '' }] };
    }
  }
  return { batchItemFailures: [] };
}
