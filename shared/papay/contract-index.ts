import { ConditionalCheckFailedException, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { Runtime } from '../runtime/container';
import { toAttributes } from '../store/items';
import { keys } from '../store/keys';

/** The contract states a deduction cares about; any other state of the code record is not indexed. */
export type IndexedContractState = 'SIGNED' | 'TERMINATED';

export function isIndexedContractState(state: unknown): state is IndexedContractState {
  return state === 'SIGNED' || state === 'TERMINATED';
}

/**
 * The contract as WeChat names it (`contract_id`) → our code record, with the state the code record reached.
 * Written after every contract transition, from the record's state after it (applied, duplicate or superseded
 * alike), so a retried notification repairs an index a crash left behind. Carrying the state lets a deduction
 * check "signed" inside its own claim transaction instead of reading two items first.
 *
 * Never backward: SIGNED does not overwrite TERMINATED. A stale SIGNED (a crash between the two writes) can only
 * let a deduction reach WeChat, which refuses a terminated contract; it can never move money on its own.
 */
export async function indexContract(rt: Runtime, contractId: string, contractCode: string, state: IndexedContractState): Promise<void> {
  try {
    await rt.dynamo.send(
      new UpdateItemCommand({
        TableName: rt.config.tableName,
        Key: toAttributes({ ...keys.papayContractId(contractId) }),
        UpdateExpression: 'SET kind = :kind, contract_id = :id, contract_code = :code, #state = :state',
        ...(state === 'SIGNED' ? { ConditionExpression: 'attribute_not_exists(#state) OR #state <> :terminated' } : {}),
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: toAttributes({
          ':kind': 'PAPAY_CONTRACT_ID',
          ':id': contractId,
          ':code': contractCode,
          ':state': state,
          ...(state === 'SIGNED' ? { ':terminated': 'TERMINATED' } : {}),
        }),
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
}
