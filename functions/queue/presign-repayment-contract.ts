import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { presignBatch } from '../../shared/repayment-contract';
import { runtime } from '../../shared/runtime/container';
import { withInvocation } from '../../shared/runtime/invocation';
import { logger } from '../../shared/runtime/logger';

/**
 * SQS → H5 presign (ReportBatchItemFailures). Only messages a later attempt can help are reported as failures;
 * permanent refusals are recorded and acknowledged, redeliveries are answered from the record.
 */
export const handler = (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> =>
  withInvocation(context, async () => {
    try {
      return await presignBatch(runtime(), event);
    } catch (error) {
      // Not even a runtime (configuration, secrets): every message comes again, and ends in the DLQ if this persists.
      logger.error('presign batch failed', { function: 'presign-repayment-contract', error: error instanceof Error ? error.name : 'unknown' });
      return { batchItemFailures: event.Records.map((record) => ({ itemIdentifier: record.messageId })) };
    }
  });
