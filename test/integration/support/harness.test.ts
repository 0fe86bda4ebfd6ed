import {
  ConditionalCheckFailedException,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  ListTablesCommand,
  PutItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { jwtVerify, importSPKI } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTable, freePort, startDynamoDbLocal } from '../../../scripts/local/dynamodb';
import { isPortFree, StartupError } from '../../../scripts/local/process';
import { TTL_ATTRIBUTE } from '../../../shared/store/table';
import { localStack, testDynamoDbClient, testSecretsLoader, testToken } from '../../support/env';

let client: DynamoDBClient;
beforeAll(() => {
  client = testDynamoDbClient();
});
afterAll(() => client.destroy());

describe('local stack: DynamoDB Local', () => {
  it('answers, and the run table exists with the shared key schema and stream', async () => {
    const { tableName } = localStack();
    const tables = await client.send(new ListTablesCommand({}));
    expect(tables.TableNames).toContain(tableName);
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    expect(Table?.TableStatus).toBe('ACTIVE');
    expect(Table?.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(Table?.StreamSpecification).toMatchObject({ StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' });
  });

  it('has TTL enabled on the shared TTL attribute', async () => {
    const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: localStack().tableName }));
    expect(ttl.TimeToLiveDescription).toEqual({ AttributeName: TTL_ATTRIBUTE, TimeToLiveStatus: 'ENABLED' });
  });

  it('is the real emulator: a conditional write on an existing key fails', async () => {
    const put = () =>
      client.send(
        new PutItemCommand({
          TableName: localStack().tableName,
          Item: { pk: { S: 'harness#conditional' }, sk: { S: 'claim' }, owner: { S: 'first' } },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    await put();
    await expect(put()).rejects.toBeInstanceOf(ConditionalCheckFailedException);
  });
});

describe('local stack: DynamoDB helpers', () => {
  it('ensureTable is idempotent on an existing table', async () => {
    const table = await ensureTable(client, localStack().tableName);
    expect(table.TableStatus).toBe('ACTIVE');
  });

  it('creates another table with TTL on', async () => {
    const name = `${localStack().tableName}-extra`;
    await ensureTable(client, name);
    const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: name }));
    expect(ttl.TimeToLiveDescription?.TimeToLiveStatus).toBe('ENABLED');
  });

  it('refuses a taken port with a one-line error before starting Java', async () => {
    const port = Number(new URL(localStack().dynamodbEndpoint).port);
    const error = await startDynamoDbLocal({ port }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StartupError);
    expect((error as Error).message).toBe(`port ${port} is in use; set DYNAMODB_PORT`);
  });

  it('freePort hands out a bindable port', async () => {
    const port = await freePort();
    expect(await isPortFree(port)).toBe(true);
  });
});

describe('local stack: environment for the code under test', () => {
  it('exports the contract variables to the workers', () => {
    const stack = localStack();
    expect(process.env).toMatchObject({
      SECRETS_SOURCE: 'file',
      SECRETS_FILE: stack.secretsFile,
      DIRECT_MERCHANT_SECRET_ID: 'wechatpay/direct-merchant',
      SERVICE_PROVIDER_SECRET_ID: 'wechatpay/service-provider',
      TABLE_NAME: stack.tableName,
      DYNAMODB_ENDPOINT: stack.dynamodbEndpoint,
      WECHATPAY_BASE_URL: stack.sandboxUrl,
      WECHATPAY_BACKUP_BASE_URL: stack.sandboxBackupUrl,
      PUBLIC_BASE_URL: stack.publicBaseUrl,
      JWT_ISSUER: 'https://auth.local.test/',
      JWT_AUDIENCE: 'wechatpay-api',
      JWT_PUBLIC_KEY: stack.jwt.publicKeyPem,
      AWS_REGION: 'us-east-1',
    });
  });

  it('serves the generated merchant secrets through the file loader', async () => {
    const stack = localStack();
    const secrets = testSecretsLoader();
    const direct = await secrets.get(stack.secretIds.direct);
    const partner = await secrets.get(stack.secretIds.serviceProvider);
    expect(direct.mchid).toBe('1900000001');
    expect(direct.apiV2Key).toHaveLength(32);
    expect(partner.mchid).toBe('1900000100');
    expect(Object.keys(direct.wechatpayPublicKeys)).toEqual([stack.sandboxConfig.wechatpayKey.id]);
  });

  it('mints dev tokens the configured issuer/audience/key accept', async () => {
    const stack = localStack();
    const token = await testToken();
    const { payload, protectedHeader } = await jwtVerify(token, await importSPKI(stack.jwt.publicKeyPem, 'ES256'), {
      issuer: stack.jwt.issuer,
      audience: stack.jwt.audience,
    });
    expect(protectedHeader).toMatchObject({ alg: 'ES256', kid: stack.jwt.kid });
    expect(String(payload.scope).split(' ').sort()).toEqual(['contracts:read', 'contracts:write', 'deductions:read', 'deductions:write', 'payments:read', 'payments:write', 'refunds:read', 'refunds:write', 'reports:read']);
    expect(payload.exp! - payload.iat!).toBe(12 * 3600);
  });
});

describe('local stack: sandbox', () => {
  it('answers on its main and backup origins, and knows the generated merchants', async () => {
    const stack = localStack();
    expect(stack.sandboxUrl).not.toBe(stack.sandboxBackupUrl);
    for (const origin of [stack.sandboxUrl, stack.sandboxBackupUrl]) {
      const health = await fetch(`${origin}/sandbox/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ ok: true });
    }
    const info = JSON.stringify(await (await fetch(`${stack.sandboxUrl}/sandbox/info`)).json());
    expect(info).toContain('1900000001');
    expect(info).toContain('1900000100');
  });

  it('rejects an unsigned v3 request, as WeChat Pay does', async () => {
    const response = await fetch(`${localStack().sandboxUrl}/v3/pay/transactions/h5`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: '{}',
    });
    expect(response.status).toBe(401);
  });
});
