import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record,
} from '@aws-sdk/client-dynamodb-streams';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { publishStreamBatch, type EventPublisher } from '../../shared/events/publisher';
import { LOCAL_AWS_ENV } from './dynamodb';

/**
 * The local stack's stand-in for the stream-triggered Lambda: polls DynamoDB Local's stream of the table and runs
 * the very same `publishStreamBatch` (shared/events/publisher.ts) with a local publisher. Dev and tests only.
 */
export interface StreamPoller {
  stop(): Promise<void>;
}

export async function pollTableStream(options: {
  dynamo: DynamoDBClient;
  endpoint: string;
  tableName: string;
  publisher: EventPublisher;
  /** TRIM_HORIZON replays the stream from its start (tests); LATEST only what happens from now on. */
  from?: 'TRIM_HORIZON' | 'LATEST';
  intervalMs?: number;
}): Promise<StreamPoller> {
  const table = (await options.dynamo.send(new DescribeTableCommand({ TableName: options.tableName }))).Table;
  const streamArn = table?.LatestStreamArn;
  if (!streamArn) throw new Error(`table ${options.tableName} has no stream`);
  const streams = new DynamoDBStreamsClient({
    endpoint: options.endpoint,
    region: LOCAL_AWS_ENV.AWS_REGION,
    credentials: { accessKeyId: LOCAL_AWS_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: LOCAL_AWS_ENV.AWS_SECRET_ACCESS_KEY },
  });
  const iterators = new Map<string, string | undefined>();
  let stopped = false;

  const discover = async () => {
    const shards = (await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }))).StreamDescription?.Shards ?? [];
    for (const shard of shards) {
      if (!shard.ShardId || iterators.has(shard.ShardId)) continue;
      // A shard found after start (DynamoDB Local rolls them) is read from its beginning: nothing is skipped.
      const type = iterators.size === 0 ? (options.from ?? 'LATEST') : 'TRIM_HORIZON';
      const it = await streams.send(new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shard.ShardId, ShardIteratorType: type }));
      iterators.set(shard.ShardId, it.ShardIterator);
    }
  };

  const pollOnce = async () => {
    await discover();
    for (const [shardId, iterator] of iterators) {
      if (!iterator) continue;
      const out = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 100 }));
      iterators.set(shardId, out.NextShardIterator);
      const records = out.Records ?? [];
      if (records.length > 0) await publishStreamBatch(toLambdaEvent(records), options.publisher);
    }
  };

  let running = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(() => (stopped ? undefined : pollOnce())).catch(() => undefined);
  }, options.intervalMs ?? 300);
  await discover();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
      streams.destroy();
    },
  };
}

/** Stream records as the Lambda event a stream trigger would get (the images are DynamoDB JSON in both). */
function toLambdaEvent(records: _Record[]): DynamoDBStreamEvent {
  return {
    Records: records.map((r) => ({
      eventName: r.eventName,
      dynamodb: {
        SequenceNumber: r.dynamodb?.SequenceNumber,
        ...(r.dynamodb?.OldImage ? { OldImage: r.dynamodb.OldImage } : {}),
        ...(r.dynamodb?.NewImage ? { NewImage: r.dynamodb.NewImage } : {}),
      },
    })),
  } as unknown as DynamoDBStreamEvent;
}
