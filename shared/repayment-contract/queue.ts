import { ConditionalCheckFailedException, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { ServiceError } from '../http/errors';
import type { FieldProblem } from '../http/responses';
import { parseJson, RequestValidationError } from '../http/validation';
import type { Runtime } from '../runtime/container';
import { logger } from '../runtime/logger';
import { fromAttributes, toAttributes } from '../store/items';
import { keys } from '../store/keys';
import { CONTRACT_CODE_USED, OUT_TRADE_NO_USED, PRESIGN_EXPIRED, presignRepaymentContract, REQUEST_IN_PROGRESS } from './presign';
import type { Refusal } from './record';
import { terminateRepaymentContract } from './terminate';
import { OUT_CONTRACT_CODE } from './schema';

/** Message-level rejections are kept this long for a person to look at; contract records never expire. */
const MESSAGE_RETENTION_SECONDS = 400 * 24 * 3600;
/** Never equal to a real fingerprint: a code refused before its call stays bound to no request at all. */
const NO_REQUEST = 'REFUSED-BEFORE-CALL';

export type QueueOutcome =
  /** WeChat presigned it now. */
  | 'presigned'
  /** A redelivery (or a copy) of a request already served: acknowledged, nothing called. */
  | 'replayed'
  /** Refused for good (validation, or WeChat 4xx): stored on the contract record, state REJECTED. */
  | 'rejected'
  /** Refused for good, but the contract code is not this message's to mark: stored under the message id. */
  | 'refused'
  /** A termination message: the contract is TERMINATED (now, or already: a redelivery calls nothing). */
  | 'terminated';

/** A lender's batched termination: `{"action": "terminate", "out_contract_code", "remark"}` on the same queue. */
const TERMINATE_ACTION = 'terminate';

/**
 * One presign queue message: the same JSON body as `POST /repayment-contracts`, the same use case. Resolves when the
 * message is finished with (acknowledge it), throws when it should come again: only for what a later attempt can
 * change (WeChat unreachable, its answer lost, our storage failing, a concurrent copy still at work). Permanent
 * refusals are recorded, so a bad message is answered once instead of being retried until the DLQ.
 */
export async function presignFromQueue(rt: Runtime, message: Pick<SQSRecord, 'messageId' | 'body'>): Promise<QueueOutcome> {
  const termination = terminationIn(message.body);
  if (termination) return terminateFromQueue(rt, message, termination);
  try {
    const { replayed } = await presignRepaymentContract(rt, parseJson(message.body), { source: 'queue', messageId: message.messageId });
    return replayed ? 'replayed' : 'presigned';
  } catch (error) {
    if (error instanceof RequestValidationError) return recordInvalid(rt, message, error.problems);
    if (!(error instanceof ServiceError) || error.status >= 500) throw error;
    switch (error.code) {
      case PRESIGN_EXPIRED:
        // This very request was served long ago: a late redelivery. The contract record says everything.
        return 'replayed';
      case CONTRACT_CODE_USED:
      // The first repayment's number is another contract's: refused before anything was written for this code.
      case OUT_TRADE_NO_USED:
        await recordMessageRefusal(rt, message, codeIn(message.body), { status: error.status, code: error.code, message: error.message });
        return 'refused';
      case REQUEST_IN_PROGRESS:
        // A copy of this message is being served right now: come back for its answer.
        throw error;
      default:
        // WeChat's refusal: already stored as REJECTED by the use case.
        return 'rejected';
    }
  }
}

/** The SQS handler's body (ReportBatchItemFailures): only the messages worth another attempt are reported. */
export async function presignBatch(rt: Runtime, event: SQSEvent): Promise<SQSBatchResponse> {
  const failures: SQSBatchResponse['batchItemFailures'] = [];
  // Copies of one message in one batch are fine: the claim lets one of them call WeChat, the others wait for it.
  await Promise.all(
    event.Records.map(async (record) => {
      try {
        const outcome = await presignFromQueue(rt, record);
        logger.info('presign message processed', { message_id: record.messageId, outcome });
      } catch (error) {
        const code = error instanceof ServiceError ? error.code : error instanceof Error ? error.name : 'unknown';
        logger.warn('presign message will be retried', { message_id: record.messageId, error: code });
        failures.push({ itemIdentifier: record.messageId });
      }
    }),
  );
  return { batchItemFailures: failures };
}

function terminationIn(body: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed !== 'object' || parsed === null || (parsed as Record<string, unknown>)['action'] !== TERMINATE_ACTION) return undefined;
    return parsed as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/**
 * A termination message, with the HTTP route's guarantees: idempotent (a redelivery of a terminated contract calls
 * nothing), a lost answer settled by the query. A contract that cannot be terminated (unknown, not in force, a bad
 * message) is recorded under the message id and acknowledged; only what a later attempt can change comes again.
 */
async function terminateFromQueue(rt: Runtime, message: Pick<SQSRecord, 'messageId' | 'body'>, body: Record<string, unknown>): Promise<QueueOutcome> {
  const { action: _action, out_contract_code: code, ...rest } = body;
  try {
    await terminateRepaymentContract(rt, typeof code === 'string' ? code : undefined, rest);
    return 'terminated';
  } catch (error) {
    const refusal: Refusal | undefined =
      error instanceof RequestValidationError
        ? { status: 400, code: 'INVALID_REQUEST', message: error.message, errors: error.problems }
        : error instanceof ServiceError && error.status < 500 && error.code !== REQUEST_IN_PROGRESS
          ? { status: error.status, code: error.code, message: error.message }
          : undefined;
    if (!refusal) throw error;
    await recordMessageRefusal(rt, message, typeof code === 'string' && OUT_CONTRACT_CODE.test(code) ? code : undefined, refusal);
    return 'refused';
  }
}

/** The out_contract_code a message names, if it names a well-formed one (the rest of it may be invalid). */
function codeIn(body: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const code = (parsed as Record<string, unknown>)['out_contract_code'];
    return typeof code === 'string' && OUT_CONTRACT_CODE.test(code) ? code : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An invalid queued presign never reaches WeChat, but its sender learns of it only through
 * `GET /repayment-contracts/{code}`: the code gets a REJECTED record naming the fields (never their values), which
 * a corrected request (HTTP or queued) may take over, since nothing reached WeChat. A code that is unreadable, or already taken, gets a message-level record.
 */
async function recordInvalid(rt: Runtime, message: Pick<SQSRecord, 'messageId' | 'body'>, errors: FieldProblem[]): Promise<QueueOutcome> {
  const refusal: Refusal = {
    status: 400,
    code: 'INVALID_REQUEST',
    message: `invalid request: ${errors.map((e) => e.field).join(', ')}`,
    errors,
  };
  const code = codeIn(message.body);
  if (code !== undefined) {
    const now = rt.now();
    try {
      await rt.dynamo.send(
        new PutItemCommand({
          TableName: rt.config.tableName,
          Item: toAttributes({
            ...keys.repaymentContract(code),
            kind: 'REPAYMENT_CONTRACT',
            out_contract_code: code,
            state: 'REJECTED',
            source: 'queue',
            message_id: message.messageId,
            refusal,
            // Nothing reached WeChat: a corrected request may take the code.
            reusable: true,
            fingerprint: NO_REQUEST,
            claim_status: 'DONE',
            created_at: now,
            updated_at: now,
          }),
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      logger.info('queued presign rejected', { message_id: message.messageId, out_contract_code: code, fields: errors.map((e) => e.field) });
      return 'rejected';
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // This message again (a redelivery): its rejection is already stored.
      if (fromAttributes(error.Item)?.['message_id'] === message.messageId) return 'rejected';
      // The code belongs to another request: its record is not this message's to change.
    }
  }
  await recordMessageRefusal(rt, message, code, refusal);
  return 'refused';
}

async function recordMessageRefusal(
  rt: Runtime,
  message: Pick<SQSRecord, 'messageId'>,
  code: string | undefined,
  refusal: Refusal,
): Promise<void> {
  const now = rt.now();
  await rt.dynamo.send(
    new PutItemCommand({
      TableName: rt.config.tableName,
      Item: toAttributes({
        ...keys.presignMessageRejection(message.messageId),
        kind: 'PRESIGN_MESSAGE_REJECTION',
        flagged: true,
        message_id: message.messageId,
        out_contract_code: code,
        state: 'REJECTED',
        refusal,
        created_at: now,
        updated_at: now,
        expires_at: Math.floor(now / 1000) + MESSAGE_RETENTION_SECONDS,
      }),
    }),
  );
  logger.warn('queued presign refused', { message_id: message.messageId, out_contract_code: code, code: refusal.code });
}
