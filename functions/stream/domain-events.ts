import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { EventBridgePublisher, publishStreamBatch } from '../../shared/events/publisher';
import { withInvocation } from '../../shared/runtime/invocation';

/** The table's stream → typed domain events on the service's EventBridge bus (ReportBatchItemFailures). */
let publisher: EventBridgePublisher | undefined;

export const handler = (event: DynamoDBStreamEvent, context?: Context): Promise<DynamoDBBatchResponse> =>
  withInvocation(context, () => {
    const bus = process.env['EVENT_BUS_NAME'];
    if (!bus) throw new Error('EVENT_BUS_NAME is not set');
    publisher ??= new EventBridgePublisher(new EventBridgeClient({}), bus);
    return publishStreamBatch(event, publisher);
  });
