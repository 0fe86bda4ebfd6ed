import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeUnusedRole, stageParamProblems } from '../../scripts/serverless/production.js';
import { tableDefinition, TTL_ATTRIBUTE } from '../../shared/store/table';

/**
 * `serverless package --stage prod` must produce the CloudFormation a merchant deploys: every function,
 * route, queue, alarm and the table, with least-privilege IAM; and must refuse a stage whose params would deploy
 * broken or unsafe functions. Nothing here talks to AWS.
 */
const execFileAsync = promisify(execFile);

type Resource = { Type: string; Properties: Record<string, any> };
let resources: Record<string, Resource>;
let out: string;

const FUNCTIONS = [
  'authorizer', 'apiDocs', 'createH5Order', 'getH5Order', 'notifyH5Payment',
  'createRepaymentContract', 'presignRepaymentContractFromQueue', 'getRepaymentContract', 'terminateRepaymentContract', 'createRepaymentSchedule', 'getRepaymentSchedule', 'createRepayment', 'getRepayment', 'notifyRepaymentContract', 'notifyRepayment',
  'createContractOrder', 'getContractOrder', 'notifyContractOrderPayment', 'notifyContractOrderContract',
  'closeH5Order', 'closeContractOrder', 'createRefund', 'getRefund', 'notifyRefund', 'notifyContractOrderRefund',
  'getPapayContract', 'getPapayContractByCode', 'terminatePapayContract', 'sendPreDeductionNotice', 'createDeduction', 'getDeduction', 'closeDeduction', 'notifyDeduction', 'reconcileDaily', 'getReconciliation',
  'recoverySweeper', 'domainEvents',
];
const MERCHANT_ROUTES = [
  'POST /h5-orders', 'GET /h5-orders/{out_trade_no}',
  'POST /repayment-contracts', 'GET /repayment-contracts/{out_contract_code}',
  'POST /contract-orders', 'GET /contract-orders/{out_trade_no}',
  'POST /h5-orders/{out_trade_no}/close', 'POST /contract-orders/{out_trade_no}/close',
  'POST /refunds', 'GET /refunds/{out_refund_no}',
  'GET /papay-contracts/{contract_id}', 'GET /papay-contracts/by-code/{contract_code}', 'POST /papay-contracts/{contract_id}/terminate', 'POST /papay-contracts/{contract_id}/pre-deduction-notice',
  'POST /deductions', 'GET /deductions/{out_trade_no}', 'POST /deductions/{out_trade_no}/close',
  'GET /reconciliation/{date}', 'POST /repayment-contracts/{out_contract_code}/terminate',
  'POST /repayment-contracts/{out_contract_code}/schedules', 'GET /repayment-contracts/{out_contract_code}/schedules/{out_record_id}',
  'POST /repayment-contracts/{out_contract_code}/repayments', 'GET /repayment-contracts/{out_contract_code}/repayments/{out_trade_no}',
];
const NOTIFY_ROUTES = [
  'POST /notify/h5-payment', 'POST /notify/repayment-contract', 'POST /notify/repayment',
  'POST /notify/contract-order/payment', 'POST /notify/contract-order/contract',
  'POST /notify/refund', 'POST /notify/contract-order/refund', 'POST /notify/deduction',
];
/** Public documentation: the OpenAPI document and its page. */
const DOCS_ROUTES = ['GET /openapi.json', 'GET /docs'];

/** This machine's environment minus every variable a stage param's default reads: the params under test decide. */
function withoutSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const settings = /^(PUBLIC_BASE_URL|JWT_\w+|WECHATPAY_\w+|POWERTOOLS_LOG_LEVEL|H5_QUERY_AFTER_SECONDS|REFUND_\w+|RECOVERY_\w+|LOCAL_CLOCK_OFFSET_SECONDS|DIRECT_MERCHANT_SECRET_ID|SERVICE_PROVIDER_SECRET_ID|TABLE_NAME|DYNAMODB_ENDPOINT|ESBUILD_\w+)$/;
  return Object.fromEntries(Object.entries(env).filter(([name]) => !settings.test(name)));
}

/** What a real prod stage sets; the package under test also sets wechatpayTimeoutMs. */
const PROD_PARAMS = [
  'publicBaseUrl=https://pay.example.com',
  'jwtIssuer=https://issuer.example.com/',
  'jwtAudience=wechatpay-merchants',
  'jwtJwksUrl=https://issuer.example.com/.well-known/jwks.json',
];
const params = (list: string[]) => list.flatMap((param) => ['--param', param]);

interface Run {
  code: number;
  output: string;
}

/** The real framework, run here; resolves with its exit code and everything it printed. */
async function serverless(args: string[], env: Record<string, string>): Promise<Run> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, ['node_modules/serverless/bin/serverless.js', ...args], {
      env: { ...withoutSettings(process.env), SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off', ...env },
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, output: `${stdout}${stderr}` };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : 1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

/** The refusal's list: one `  - name: problem` line per param. */
const listed = (output: string) => output.split('\n').filter((line) => line.startsWith('  - '));

let refused: { none: Run; unsafe: Run; local: Run };

const logicalId = (name: string) => `${name[0]!.toUpperCase()}${name.slice(1)}LambdaFunction`;
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

const work = `.esbuild-package-${process.pid}`;

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), 'sls-package-'));
  // The refusals come before anything is built, so they cost a framework start each; run beside the real package.
  const [packaged, none, unsafe, local] = await Promise.all([
    serverless(['package', '--stage', 'prod', '--package', join(out, 'prod'), ...params([...PROD_PARAMS, 'wechatpayTimeoutMs=3000', 'apiThrottleRateLimit=50', 'apiThrottleBurstLimit=80'])], {
      ESBUILD_WORK_FOLDER: work,
    }),
    serverless(['package', '--stage', 'prod', '--package', join(out, 'refused')], { ESBUILD_WORK_FOLDER: `${work}-none` }),
    serverless(
      [
        'deploy', '--stage', 'prod',
        ...params(['publicBaseUrl=http://pay.example.com', 'jwtIssuer=https://issuer.example.com/', 'jwtAudience=wechatpay-merchants', 'jwtJwksUrl=http://issuer.example.com/jwks.json']),
      ],
      { ESBUILD_WORK_FOLDER: `${work}-unsafe` },
    ),
    serverless(['deploy', '--stage', 'local'], { ESBUILD_WORK_FOLDER: `${work}-local` }),
  ]);
  if (packaged.code !== 0) throw new Error(`serverless package --stage prod failed:\n${packaged.output}`);
  refused = { none, unsafe, local };
  resources = JSON.parse(readFileSync(join(out, 'prod', 'cloudformation-template-update-stack.json'), 'utf8')).Resources;
}, 180_000);

afterAll(() => {
  if (out) rmSync(out, { recursive: true, force: true });
  for (const suffix of ['', '-none', '-unsafe', '-local']) rmSync(`${work}${suffix}`, { recursive: true, force: true });
});

describe('a stage other than local cannot be packaged or deployed misconfigured', () => {
  it('refuses `package --stage prod` without params, naming every missing one in one message, before building anything', () => {
    expect(refused.none.code).not.toBe(0);
    expect(refused.none.output.match(/Refusing to package stage "prod"/g)).toHaveLength(1);
    expect(listed(refused.none.output).map((line) => line.slice(4, line.indexOf(': ')))).toEqual([
      'publicBaseUrl (PUBLIC_BASE_URL)',
      'jwtIssuer (JWT_ISSUER)',
      'jwtAudience (JWT_AUDIENCE)',
      'jwtJwksUrl (JWT_JWKS_URL) or jwtPublicKey (JWT_PUBLIC_KEY)',
    ]);
    expect(existsSync(join(out, 'refused'))).toBe(false);
  });

  it('refuses `deploy --stage prod` with a plain-http public URL or JWKS URL, naming exactly those', () => {
    expect(refused.unsafe.code).not.toBe(0);
    expect(refused.unsafe.output).toContain('Refusing to deploy stage "prod"');
    expect(listed(refused.unsafe.output)).toEqual([
      expect.stringMatching(/^ {2}- publicBaseUrl \(PUBLIC_BASE_URL\): must be https:\/\//),
      expect.stringMatching(/^ {2}- jwtJwksUrl \(JWT_JWKS_URL\): must be https:\/\//),
    ]);
  });

  it('refuses to deploy the local stage (a secrets file, DynamoDB Local)', () => {
    expect(refused.local.code).not.toBe(0);
    expect(refused.local.output).toContain('Refusing to deploy stage "local"');
  });

  it('checks each value as the functions would read it', () => {
    const valid = {
      PUBLIC_BASE_URL: 'https://pay.example.com', JWT_ISSUER: 'https://issuer.example.com/', JWT_AUDIENCE: 'wechatpay',
      JWT_JWKS_URL: 'https://issuer.example.com/jwks.json', SECRETS_SOURCE: 'aws', DYNAMODB_ENDPOINT: '',
      WECHATPAY_BASE_URL: 'https://api.mch.weixin.qq.com', WECHATPAY_BACKUP_BASE_URL: 'https://api2.mch.weixin.qq.com',
      WECHATPAY_TIMEOUT_MS: '5000', POWERTOOLS_LOG_LEVEL: 'INFO', H5_QUERY_AFTER_SECONDS: '60',
    };
    const throttle = { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 };
    expect(stageParamProblems(valid, throttle)).toEqual([]);
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const publicPem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const withKey = (key: string) => ({ ...valid, JWT_JWKS_URL: '', JWT_PUBLIC_KEY: key });
    expect(stageParamProblems(withKey(publicPem), throttle)).toEqual([]);
    expect(stageParamProblems(withKey(JSON.stringify(publicKey.export({ format: 'jwk' }))), throttle)).toEqual([]);
    const problems = (env: Record<string, string>, limits: Record<string, unknown> = throttle) => stageParamProblems(env, limits).map((p) => p.slice(0, p.indexOf(':')));
    expect(problems(withKey(privatePem))).toEqual(['jwtPublicKey (JWT_PUBLIC_KEY)']);
    expect(problems(withKey(JSON.stringify(privateKey.export({ format: 'jwk' }))))).toEqual(['jwtPublicKey (JWT_PUBLIC_KEY)']);
    expect(problems(withKey('not a key'))).toEqual(['jwtPublicKey (JWT_PUBLIC_KEY)']);
    expect(problems({ ...valid, JWT_PUBLIC_KEY: publicPem })).toEqual(['jwtJwksUrl (JWT_JWKS_URL) and jwtPublicKey (JWT_PUBLIC_KEY)']);
    expect(problems({ ...valid, PUBLIC_BASE_URL: 'https://127.0.0.1:3000' })).toEqual(['publicBaseUrl (PUBLIC_BASE_URL)']);
    expect(problems({ ...valid, PUBLIC_BASE_URL: 'https://pay.example.com/?x=1' })).toEqual(['publicBaseUrl (PUBLIC_BASE_URL)']);
    expect(problems({ ...valid, PUBLIC_BASE_URL: 'pay.example.com' })).toEqual(['publicBaseUrl (PUBLIC_BASE_URL)']);
    expect(problems({ ...valid, SECRETS_SOURCE: 'file', DYNAMODB_ENDPOINT: 'http://127.0.0.1:8000' })).toEqual(['secretsSource', 'dynamodbEndpoint']);
    expect(problems({ ...valid, WECHATPAY_BASE_URL: 'http://127.0.0.1:4010' })).toEqual(['wechatpayBaseUrl (WECHATPAY_BASE_URL)']);
    expect(problems({ ...valid, LOCAL_CLOCK_OFFSET_SECONDS: '3600' })).toEqual(['clockOffsetSeconds (LOCAL_CLOCK_OFFSET_SECONDS)']);
    expect(problems({ ...valid, LOCAL_CLOCK_OFFSET_SECONDS: '0' })).toEqual([]);
    expect(problems({ ...valid, WECHATPAY_TIMEOUT_MS: '5s', POWERTOOLS_LOG_LEVEL: 'LOUD' })).toEqual([
      'wechatpayTimeoutMs (WECHATPAY_TIMEOUT_MS)', 'logLevel (POWERTOOLS_LOG_LEVEL)',
    ]);
    expect(problems(valid, { ThrottlingRateLimit: 0, ThrottlingBurstLimit: 'lots' })).toEqual(['apiThrottleRateLimit', 'apiThrottleBurstLimit']);
  });
});

describe('serverless package --stage prod', () => {
  it('gives every function the documented settings, WECHATPAY_TIMEOUT_MS and POWERTOOLS_LOG_LEVEL included, from stage params', () => {
    for (const name of FUNCTIONS) {
      const env = resources[logicalId(name)]!.Properties.Environment.Variables;
      expect(env.WECHATPAY_TIMEOUT_MS, name).toBe('3000'); // --param wechatpayTimeoutMs=3000
      expect(env.POWERTOOLS_LOG_LEVEL, name).toBe('INFO'); // the default
    }
  });

  it('has every function on nodejs22.x, each with its own role', () => {
    for (const name of FUNCTIONS) {
      const fn = resources[logicalId(name)];
      expect(fn, name).toBeDefined();
      expect(fn!.Properties.Runtime).toBe('nodejs22.x');
      expect(JSON.stringify(fn!.Properties.Role)).toContain(`${name[0]!.toUpperCase()}${name.slice(1)}IamRoleLambdaExecution`);
    }
  });

  it('routes merchant paths through the JWT authorizer and leaves notify paths to signature checks', () => {
    const routes = Object.fromEntries(ofType('AWS::ApiGatewayV2::Route').map(([, r]) => [r.Properties.RouteKey, r.Properties]));
    for (const key of MERCHANT_ROUTES) expect(routes[key]?.AuthorizationType, key).toBe('CUSTOM');
    for (const key of [...NOTIFY_ROUTES, ...DOCS_ROUTES]) expect(routes[key]?.AuthorizationType ?? 'NONE', key).toBe('NONE');
    expect(Object.keys(routes).sort()).toEqual([...MERCHANT_ROUTES, ...NOTIFY_ROUTES, ...DOCS_ROUTES].sort());
    const [, authorizer] = ofType('AWS::ApiGatewayV2::Authorizer')[0]!;
    expect(authorizer.Properties).toMatchObject({ AuthorizerType: 'REQUEST', EnableSimpleResponses: true, AuthorizerResultTtlInSeconds: 0 });
    // No identity source: a request without a token still reaches the authorizer, so the route answers TOKEN_MISSING
    // as problem+json instead of API Gateway's bare 401 (shared/auth/verdict.ts).
    expect(authorizer.Properties.IdentitySource ?? []).toEqual([]);
  });

  it('runs the reconciliation daily after 10:00 Beijing time, reading one day with a Query on the sparse index, never a Scan', () => {
    const rules = ofType('AWS::Events::Rule');
    expect(rules.map(([, r]) => r.Properties.ScheduleExpression)).toContain('cron(30 2 * * ? *)');
    const policies = JSON.stringify(resources.ReconcileDailyIamRoleLambdaExecution!.Properties.Policies);
    expect(policies).toContain('/index/by_settled_day');
    expect(policies).toContain('dynamodb:Query');
    const all = JSON.stringify(ofType('AWS::IAM::Role').map(([, r]) => r.Properties.Policies));
    expect(all).not.toContain('dynamodb:Scan');
  });

  it('publishes domain events from the table stream to its own bus, and may put events on that bus only', () => {
    const mapping = ofType('AWS::Lambda::EventSourceMapping').find(([, m]) => JSON.stringify(m.Properties.EventSourceArn).includes('StreamArn'));
    expect(mapping?.[1].Properties).toMatchObject({ FunctionResponseTypes: ['ReportBatchItemFailures'], StartingPosition: 'TRIM_HORIZON' });
    const policies = JSON.stringify(resources.DomainEventsIamRoleLambdaExecution!.Properties.Policies);
    expect(policies).toContain('events:PutEvents');
    expect(policies).toContain('DomainEventBus');
    expect(policies).not.toContain('dynamodb:PutItem');
    expect(resources.DomainEventBus?.Type).toBe('AWS::Events::EventBus');
  });

  it('declares the table as shared/store/table.ts does, with TTL, stream, PITR and encryption', () => {
    const table = resources.StateTable!.Properties;
    const local = tableDefinition('x');
    expect(table.KeySchema).toEqual(local.KeySchema);
    expect(table.AttributeDefinitions).toEqual(local.AttributeDefinitions);
    expect(table.GlobalSecondaryIndexes).toEqual(local.GlobalSecondaryIndexes);
    expect(table.BillingMode).toBe('PAY_PER_REQUEST');
    expect(table.TimeToLiveSpecification).toEqual({ AttributeName: TTL_ATTRIBUTE, Enabled: true });
    expect(table.StreamSpecification.StreamViewType).toBe('NEW_AND_OLD_IMAGES');
    expect(table.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled).toBe(true);
    expect(table.SSESpecification.SSEEnabled).toBe(true);
  });

  it('has an encrypted presign queue with a DLQ, consumed with partial batch failures', () => {
    const queue = resources.PresignQueue!.Properties;
    expect(queue.SqsManagedSseEnabled).toBe(true);
    expect(queue.RedrivePolicy.maxReceiveCount).toBeGreaterThan(1);
    expect(resources.PresignDeadLetterQueue!.Properties.SqsManagedSseEnabled).toBe(true);
    const [, mapping] = ofType('AWS::Lambda::EventSourceMapping')[0]!;
    expect(mapping.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
  });

  it('alarms on the DLQ and queue age, failed and unmatched notifications, known-serial refusals, abnormal refunds, WeChat errors and API 5xx', () => {
    const metrics = ofType('AWS::CloudWatch::Alarm')
      .filter(([, a]) => a.Properties.Namespace !== 'AWS/Lambda')
      .map(([, a]) => a.Properties.MetricName)
      .sort();
    expect(metrics).toEqual([
      '5xx', 'ApproximateAgeOfOldestMessage', 'ApproximateNumberOfMessagesVisible', 'NotificationsFailed', 'NotificationsRefusedKnownSerial',
      'NotificationsUnmatched', 'ReconciliationDifferences', 'RecoveryStillPending', 'RefundsAbnormal', 'WechatPayCallErrors',
    ]);
    for (const [, alarm] of ofType('AWS::CloudWatch::Alarm')) expect(alarm.Properties.AlarmActions).toEqual([{ Ref: 'AlarmTopic' }]);
    const age = ofType('AWS::CloudWatch::Alarm').find(([, a]) => a.Properties.MetricName === 'ApproximateAgeOfOldestMessage')![1].Properties;
    expect(age).toMatchObject({ Namespace: 'AWS/SQS', Statistic: 'Maximum', Threshold: 600 });
    expect(age.Dimensions).toEqual([{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['PresignQueue', 'QueueName'] } }]);
  });

  it('alarms on every function: Errors, Throttles, and p99 Duration above 80 % of its own timeout', () => {
    const lambda = ofType('AWS::CloudWatch::Alarm').filter(([, a]) => a.Properties.Namespace === 'AWS/Lambda');
    expect(lambda).toHaveLength(FUNCTIONS.length * 3);
    for (const name of FUNCTIONS) {
      const fn = resources[logicalId(name)]!.Properties;
      const of = (metric: string) => {
        const found = lambda.filter(([, a]) => a.Properties.MetricName === metric && a.Properties.Dimensions[0].Value.Ref === logicalId(name));
        expect(found, `${name} ${metric}`).toHaveLength(1);
        expect(found[0]![1].Properties.Dimensions).toEqual([{ Name: 'FunctionName', Value: { Ref: logicalId(name) } }]);
        return found[0]![1].Properties;
      };
      expect(of('Errors')).toMatchObject({ Statistic: 'Sum', Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
      expect(of('Throttles')).toMatchObject({ Statistic: 'Sum', Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
      expect(of('Duration')).toMatchObject({ ExtendedStatistic: 'p99', Threshold: fn.Timeout * 800, ComparisonOperator: 'GreaterThanThreshold' });
    }
    // Timeouts differ: the authorizer's 5 s, the WeChat-calling routes' 29 s, the 10 s default, the sweeper's 60 s,
    // the reconciliation's 120 s.
    expect(new Set(FUNCTIONS.map((name) => resources[logicalId(name)]!.Properties.Timeout))).toEqual(new Set([5, 10, 29, 60, 120]));
  });

  it('publishes alarms to a topic encrypted with a key CloudWatch may use, not alias/aws/sns', () => {
    const topic = resources.AlarmTopic!.Properties;
    expect(JSON.stringify(topic.KmsMasterKeyId)).not.toContain('alias/aws/');
    const keyId = topic.KmsMasterKeyId['Fn::GetAtt']?.[0] ?? topic.KmsMasterKeyId.Ref;
    const key = resources[keyId]!;
    expect(key.Type).toBe('AWS::KMS::Key');
    expect(key.Properties.EnableKeyRotation).toBe(true);
    const statements = key.Properties.KeyPolicy.Statement as any[];
    const cloudwatch = statements.find((s) => s.Principal?.Service === 'cloudwatch.amazonaws.com');
    expect(cloudwatch).toMatchObject({ Effect: 'Allow' });
    expect([cloudwatch.Action].flat().sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey*']);
  });

  it('throttles the HTTP API stage with the rate and burst params, and keeps JSON access logs with the request ids', () => {
    const stage = resources.HttpApiStage!.Properties;
    expect(stage.DefaultRouteSettings).toEqual({ DetailedMetricsEnabled: false, ThrottlingRateLimit: 50, ThrottlingBurstLimit: 80 });
    const format = JSON.parse(stage.AccessLogSettings.Format);
    expect(format).toMatchObject({ requestId: '$context.requestId', integrationRequestId: '$context.integration.requestId', status: '$context.status' });
    expect(stage.AccessLogSettings.DestinationArn).toEqual({ 'Fn::GetAtt': ['HttpApiLogGroup', 'Arn'] });
    expect(resources.HttpApiLogGroup!.Properties.RetentionInDays).toBe(30);
  });

  it('never alarms on what anyone can send: raw refusals are a metric, not an alarm', () => {
    // 12 unsigned POSTs to a notify route are 12 NotificationsRefused; they must not page anyone.
    const watched = ofType('AWS::CloudWatch::Alarm').map(([, a]) => a.Properties.MetricName);
    expect(watched).not.toContain('NotificationsRefused');
    const known = ofType('AWS::CloudWatch::Alarm').find(([, a]) => a.Properties.MetricName === 'NotificationsRefusedKnownSerial')![1];
    expect(known.Properties).toMatchObject({ Namespace: 'WechatPayServerless', Statistic: 'Sum', Threshold: 1 });
    expect(known.Properties.Dimensions).toEqual([{ Name: 'service', Value: 'wechatpay-serverless' }]);
    const unmatched = ofType('AWS::CloudWatch::Alarm').find(([, a]) => a.Properties.MetricName === 'NotificationsUnmatched')![1];
    expect(unmatched.Properties).toMatchObject({ Namespace: 'WechatPayServerless', Threshold: 1 });
  });

  it('has no shared IamRoleLambdaExecution: the queue consumer reads the queue with its own role', () => {
    expect(resources.IamRoleLambdaExecution).toBeUndefined();
    expect(JSON.stringify(resources)).not.toContain('"IamRoleLambdaExecution"');
    const consumer = resources.PresignRepaymentContractFromQueueIamRoleLambdaExecution!;
    const statements = consumer.Properties.Policies.flatMap((p: any) => p.PolicyDocument.Statement as any[]);
    expect(statements).toContainEqual(expect.objectContaining({
      Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
      Resource: [{ 'Fn::GetAtt': ['PresignQueue', 'Arn'] }],
    }));
  });

  it('schedules the recovery sweeper (rate from a stage param) with Query on the pending index only: no Scan anywhere', () => {
    const rules = ofType('AWS::Events::Rule');
    const sweeperRule = rules.find(([, r]) => JSON.stringify(r.Properties.Targets).includes(logicalId('recoverySweeper')));
    expect(sweeperRule?.[1].Properties.ScheduleExpression).toBe('rate(5 minutes)');
    const role = resources.RecoverySweeperIamRoleLambdaExecution!;
    const statements = (role.Properties.Policies as any[]).flatMap((p) => p.PolicyDocument.Statement as any[]);
    const query = statements.filter((s) => [s.Action].flat().includes('dynamodb:Query'));
    expect(query).toHaveLength(1);
    expect([query[0].Action].flat()).toEqual(['dynamodb:Query']);
    expect(JSON.stringify(query[0].Resource)).toContain('/index/pending');
    for (const [, r] of ofType('AWS::IAM::Role')) expect(JSON.stringify(r.Properties.Policies ?? [])).not.toContain('dynamodb:Scan');
    const env = resources[logicalId('recoverySweeper')]!.Properties.Environment.Variables;
    expect(env).toMatchObject({ RECOVERY_MAX_QPS: '20', RECOVERY_STILL_PENDING_HOURS: '6' });
  });

  it('refuses to drop the shared role while a function still uses it', () => {
    const template = {
      Resources: {
        IamRoleLambdaExecution: { Type: 'AWS::IAM::Role' },
        NewLambdaFunction: { Type: 'AWS::Lambda::Function', Properties: { Role: { 'Fn::GetAtt': ['IamRoleLambdaExecution', 'Arn'] } }, DependsOn: ['IamRoleLambdaExecution'] },
      },
    };
    expect(() => removeUnusedRole(template, 'IamRoleLambdaExecution')).toThrow(/still used by NewLambdaFunction/);
    expect(template.Resources.IamRoleLambdaExecution).toBeDefined();
  });

  it('grants no IAM statement on every resource or every action', () => {
    const statements = ofType('AWS::IAM::Role').flatMap(([, role]) =>
      (role.Properties.Policies ?? []).flatMap((p: any) => p.PolicyDocument.Statement as any[]),
    );
    expect(statements.length).toBeGreaterThan(0);
    for (const statement of statements) {
      const targets = [statement.Resource].flat();
      expect(targets).not.toContain('*');
      expect([statement.Action].flat()).not.toContain('*');
      for (const action of [statement.Action].flat() as string[]) expect(action).not.toMatch(/:\*$/);
    }
    const secretGrants = statements.filter((s) => [s.Action].flat().includes('secretsmanager:GetSecretValue'));
    for (const grant of secretGrants) expect(JSON.stringify(grant.Resource)).toMatch(/secret:wechatpay\/(direct-merchant|service-provider)-\?{6}/);
    // A claim's guards are ConditionCheck items: only the deduction's create path has them.
    const guard = (name: string) => JSON.stringify(resources[`${name[0]!.toUpperCase()}${name.slice(1)}IamRoleLambdaExecution`]!.Properties.Policies);
    expect(guard('createDeduction')).toContain('dynamodb:ConditionCheckItem');
    expect(guard('getDeduction')).not.toContain('dynamodb:ConditionCheckItem');
    // Only create paths may delete (a claim given back); notify and read paths never can.
    for (const name of ['notifyH5Payment', 'getH5Order', 'notifyRepayment', 'notifyContractOrderPayment']) {
      const role = resources[`${name[0]!.toUpperCase()}${name.slice(1)}IamRoleLambdaExecution`]!;
      expect(JSON.stringify(role.Properties.Policies)).not.toContain('dynamodb:DeleteItem');
    }
  });

  it('keeps every bundle small enough to start fast', () => {
    for (const name of FUNCTIONS) {
      const bytes = readFileSync(join(out, 'prod', `${name}.zip`)).length;
      expect(bytes, name).toBeLessThan(2_000_000);
    }
  });
});
