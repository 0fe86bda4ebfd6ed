import { randomBytes } from 'node:crypto';
import { DeleteItemCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { SQSClient, StartMessageMoveTaskCommand } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as createH5 } from '../../../functions/http/create-h5-order';
import { handler as notifyH5 } from '../../../functions/notify/h5-payment';
import { ensureTable } from '../../../scripts/local/dynamodb';
import { history, listUnmatched, reapply } from '../../../scripts/ops/operations';
import { redriveDlq } from '../../../scripts/ops/redrive';
import { keys } from '../../../shared/store/keys';
import { testDynamoDbClient } from '../../support/env';
import { httpEvent, lambdaContext, startFlowStack, type FlowStack } from '../../support/flow';

/** The operator's tools against a table of their own: list what was flagged, re-apply it after a fix, read a record. */
type Result = APIGatewayProxyStructuredResultV2;
let flow: FlowStack;
let tableName: string;
const parse = (r: Result) => JSON.parse(r.body ?? '{}') as Record<string, any>;

beforeAll(async () => {
  tableName = `ops-${randomBytes(4).toString('hex')}`;
  const dynamo = testDynamoDbClient();
  await ensureTable(dynamo, tableName);
  dynamo.destroy();
  flow = await startFlowStack({ tableName, routes: { 'POST /notify/h5-payment': notifyH5 as never } });
});
afterAll(async () => {
  await flow?.close();
});

describe('npm run ops', () => {
  it('a payment notification for a record that was missing is listed, re-applied once the record is restored, and marked resolved', async () => {
    const no = `OPS${randomBytes(6).toString('hex')}`;
    const created = (await (createH5 as (e: unknown, c: unknown) => Promise<Result>)(
      httpEvent({ out_trade_no: no, description: '运维', amount: { total: 500 }, scene_info: { payer_client_ip: '14.23.150.211', h5_info: { type: 'iOS' } } }),
      lambdaContext(29_000),
    )) as Result;
    expect(created.statusCode).toBe(201);
    // The record is lost (a bad restore) just before WeChat tells us the order was paid.
    const key = { pk: { S: keys.h5Order(no).pk }, sk: { S: keys.h5Order(no).sk } };
    const saved = (await flow.rt.dynamo.send(new GetItemCommand({ TableName: tableName, Key: key }))).Item!;
    await flow.rt.dynamo.send(new DeleteItemCommand({ TableName: tableName, Key: key }));
    expect((await flow.act({ url: parse(created).h5_url, action: 'pay' })).status).toBe(200);
    await flow.sandbox.notifications.waitFor((a) => a.event === 'TRANSACTION.SUCCESS' && a.ok);

    const flagged = await listUnmatched(flow.rt, 'H5');
    expect(flagged).toMatchObject([{ product: 'H5', business_key: no, reason: 'no such order' }]);
    expect(JSON.stringify(flagged)).not.toMatch(/openid/);

    // Restored: re-applying asks WeChat and books what it says, through the notification's transition.
    await flow.rt.dynamo.send(new PutItemCommand({ TableName: tableName, Item: saved }));
    expect(await reapply(flow.rt, 'H5', no)).toMatchObject({ before: 'NOTPAY', after: 'SUCCESS', resolved: 1 });
    expect((await listUnmatched(flow.rt, 'H5'))[0]?.resolved_at).toBeDefined();
    expect(await reapply(flow.rt, 'H5', no)).toMatchObject({ before: 'SUCCESS', after: 'SUCCESS', resolved: 0 });

    const h = await history(flow.rt, 'H5', no);
    expect(h.record).toMatchObject({ state: 'SUCCESS', out_trade_no: no, transaction_id: expect.any(String) });
    expect(JSON.stringify(h.record)).not.toMatch(/"fingerprint"|"h5_url"|"lease_token"/);
    await expect(reapply(flow.rt, 'NOPE', no)).rejects.toThrow(/unknown product/);
  });

  it('redrive-dlq starts SQS\'s own message move from the DLQ, and says what to set when it cannot', async () => {
    expect((await redriveDlq({})).note).toMatch(/PRESIGN_DLQ_ARN/);
    const sqs = mockClient(SQSClient);
    sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'task-1' });
    const arn = 'arn:aws:sqs:us-east-1:000000000000:presign-dlq';
    expect(await redriveDlq({ PRESIGN_DLQ_ARN: arn }, new SQSClient({ region: 'us-east-1' }))).toEqual({ taskHandle: 'task-1' });
    expect(sqs.commandCalls(StartMessageMoveTaskCommand)[0]?.args[0].input).toEqual({ SourceArn: arn });
    sqs.restore();
  });
});
