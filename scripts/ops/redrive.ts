import { SQSClient, StartMessageMoveTaskCommand } from '@aws-sdk/client-sqs';

/**
 * Moves the presign DLQ's messages back to the queue they came from (SQS's own redrive, StartMessageMoveTask), once
 * their cause is fixed. Safe to repeat: a presign message is idempotent on its out_contract_code. The local stack
 * runs the queue consumer through the Lambda invoke API and has no SQS queue, so there is nothing to redrive there.
 */
export async function redriveDlq(env: Record<string, string | undefined>, client?: SQSClient): Promise<{ taskHandle?: string; note?: string }> {
  const dlqArn = env['PRESIGN_DLQ_ARN'];
  if (!dlqArn) {
    return { note: 'set PRESIGN_DLQ_ARN to the stack output PresignDeadLetterQueueArn (the local stack has no SQS queue to redrive)' };
  }
  const sqs = client ?? new SQSClient({});
  const out = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: dlqArn }));
  return out.TaskHandle ? { taskHandle: out.TaskHandle } : {};
}
