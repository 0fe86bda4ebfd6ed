/**
 * A local osls plugin (listed first in serverless.yml's `plugins`) that makes a deploy hard to get wrong:
 *
 * - `package` / `deploy` of any stage but `local` refuse to start, with one message naming every stage parameter
 *   that is missing or invalid, before anything is built. Without it, `serverless package --stage prod` with no
 *   params produced functions that answer 500 MISCONFIGURED to every request. `deploy --stage local` is refused
 *   outright: that stage reads secrets from a file and talks to DynamoDB Local.
 * - `serverless offline` builds in a folder of its own (`custom.production.offlineWorkFolder`), so a `serverless
 *   package` run beside a running `npm start` cannot wipe the running stack's bundles (serverless-esbuild deletes its
 *   work folder when packaging ends).
 * - The packaged template: the framework's shared `IamRoleLambdaExecution` is removed once every function has its
 *   own role (serverless-iam-roles-per-function only copies it), and every function gets alarms on Errors, Throttles
 *   and a p99 Duration near its timeout, all to the stack's alarm topic.
 *
 * Plain JavaScript (osls loads plugins with require/import, not through tsx); types for the tests in production.d.ts.
 */
import { createPublicKey } from 'node:crypto';

export const LOCAL_STAGE = 'local';

/** Log levels Powertools Logger accepts for POWERTOOLS_LOG_LEVEL. */
export const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT'];

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '0.0.0.0']);

const blank = (value) => value === undefined || value === null || String(value).trim() === '';

function httpsUrl(value) {
  let url;
  try {
    url = new URL(String(value).trim());
  } catch {
    return 'is not an absolute URL';
  }
  if (url.protocol !== 'https:') return `must be https:// (got ${url.protocol}//)`;
  if (LOOPBACK.has(url.hostname)) return 'must not point at this machine (a loopback host)';
  return undefined;
}

function wholeNumber(value, { min, max }) {
  const text = String(value).trim();
  const number = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(number) || number < min || number > max) {
    return `must be a whole number from ${min} to ${max} (got ${JSON.stringify(text)})`;
  }
  return undefined;
}

/** Mirrors shared/auth/verifier.ts: a PEM public key or a public JWK; never a private or secret key. */
function publicKeyProblem(value) {
  const text = String(value).trim();
  try {
    if (text.startsWith('{')) {
      const jwk = JSON.parse(text);
      if ('d' in jwk || jwk.kty === 'oct') return 'is a private or secret JWK: give the public key only';
      createPublicKey({ key: jwk, format: 'jwk' });
    } else {
      const pem = text.includes('\\n') ? text.replace(/\\n/g, '\n') : text;
      if (/PRIVATE KEY-----/.test(pem)) return 'is a private key: give the public key only (it would sit in every function\'s environment)';
      createPublicKey(pem);
    }
  } catch {
    return 'is neither a PEM public key nor a public JWK';
  }
  return undefined;
}

/**
 * Every problem with a deployable stage's settings, one line each, naming the stage param (and the environment
 * variable its default reads, where it has one). `env` is the resolved provider.environment; `throttle` the HTTP API
 * stage's DefaultRouteSettings, when serverless.yml sets them. Empty when the stage can be deployed.
 */
export function stageParamProblems(env, throttle) {
  const problems = [];
  const add = (name, problem, hint) => problems.push(`${name}: ${problem}${hint ? `. ${hint}` : ''}`);

  const publicBaseUrl = env.PUBLIC_BASE_URL;
  const publicHint = 'The HTTPS origin WeChat Pay sends notifications to (the API URL or a custom domain), e.g. https://pay.example.com';
  if (blank(publicBaseUrl)) add('publicBaseUrl (PUBLIC_BASE_URL)', 'missing', publicHint);
  else {
    const problem = httpsUrl(publicBaseUrl);
    if (problem) add('publicBaseUrl (PUBLIC_BASE_URL)', problem, publicHint);
    else if (/[?#]/.test(String(publicBaseUrl))) add('publicBaseUrl (PUBLIC_BASE_URL)', 'must not carry a query or fragment', 'WeChat refuses notify URLs with a query');
  }

  if (blank(env.JWT_ISSUER)) add('jwtIssuer (JWT_ISSUER)', 'missing', 'The "iss" every merchant bearer token must carry');
  if (blank(env.JWT_AUDIENCE)) add('jwtAudience (JWT_AUDIENCE)', 'missing', 'The "aud" every merchant bearer token must carry');

  const jwks = env.JWT_JWKS_URL;
  const publicKey = env.JWT_PUBLIC_KEY;
  const keyHint = 'Set exactly one: the token issuer\'s HTTPS JWKS URL, or its PEM / JWK public key';
  if (blank(jwks) && blank(publicKey)) add('jwtJwksUrl (JWT_JWKS_URL) or jwtPublicKey (JWT_PUBLIC_KEY)', 'missing', keyHint);
  else if (!blank(jwks) && !blank(publicKey)) add('jwtJwksUrl (JWT_JWKS_URL) and jwtPublicKey (JWT_PUBLIC_KEY)', 'both set', keyHint);
  else if (!blank(jwks)) {
    const problem = httpsUrl(jwks);
    if (problem) add('jwtJwksUrl (JWT_JWKS_URL)', problem, 'Keys fetched over plain HTTP could be swapped in transit');
  } else {
    const problem = publicKeyProblem(publicKey);
    if (problem) add('jwtPublicKey (JWT_PUBLIC_KEY)', problem);
  }

  if (env.SECRETS_SOURCE !== 'aws') {
    add('secretsSource', `must be "aws" (got ${JSON.stringify(env.SECRETS_SOURCE ?? '')})`, 'A secrets file exists only on the machine running the local stack');
  }
  if (!blank(env.LOCAL_CLOCK_OFFSET_SECONDS) && String(env.LOCAL_CLOCK_OFFSET_SECONDS).trim() !== '0') {
    add('clockOffsetSeconds (LOCAL_CLOCK_OFFSET_SECONDS)', 'must be 0', 'Only the local stack moves its business clock');
  }
  if (!blank(env.DYNAMODB_ENDPOINT)) add('dynamodbEndpoint', 'must be empty', 'Deployed functions use the stage\'s DynamoDB table, not DynamoDB Local');
  for (const [name, variable] of [
    ['wechatpayBaseUrl', 'WECHATPAY_BASE_URL'],
    ['wechatpayBackupBaseUrl', 'WECHATPAY_BACKUP_BASE_URL'],
    ['wechatpayMtlsBaseUrl', 'WECHATPAY_MTLS_BASE_URL'],
  ]) {
    if (blank(env[variable])) {
      if (variable === 'WECHATPAY_BASE_URL') add(`${name} (${variable})`, 'missing');
      continue;
    }
    const problem = httpsUrl(env[variable]);
    if (problem) add(`${name} (${variable})`, problem);
  }

  // Per attempt; an HTTP API answers 504 after 30 s whatever the function does.
  const timeout = wholeNumber(env.WECHATPAY_TIMEOUT_MS ?? '', { min: 1, max: 29_000 });
  if (timeout) add('wechatpayTimeoutMs (WECHATPAY_TIMEOUT_MS)', timeout, 'Milliseconds per WeChat Pay attempt');
  if (!LOG_LEVELS.includes(String(env.POWERTOOLS_LOG_LEVEL ?? '').trim())) {
    add('logLevel (POWERTOOLS_LOG_LEVEL)', `must be one of ${LOG_LEVELS.join(', ')} (got ${JSON.stringify(env.POWERTOOLS_LOG_LEVEL ?? '')})`);
  }
  for (const [name, variable] of [
    ['h5QueryAfterSeconds', 'H5_QUERY_AFTER_SECONDS'],
    ['refundMinIntervalSeconds', 'REFUND_MIN_INTERVAL_SECONDS'],
    ['refundQueryAfterSeconds', 'REFUND_QUERY_AFTER_SECONDS'],
  ]) {
    if (blank(env[variable])) continue;
    const problem = wholeNumber(env[variable], { min: 0, max: 86_400 });
    if (problem) add(`${name} (${variable})`, problem);
  }

  // The recovery sweeper's own settings (its function environment).
  if (env.RECOVERY_SWEEP_RATE !== undefined && !/^rate\((1 minute|[1-9]\d* minutes|1 hour|[1-9]\d* hours)\)$/.test(String(env.RECOVERY_SWEEP_RATE))) {
    add('recoverySweepRate (RECOVERY_SWEEP_RATE)', `must be an EventBridge rate, e.g. rate(5 minutes) (got ${JSON.stringify(env.RECOVERY_SWEEP_RATE)})`);
  }
  if (env.RECOVERY_MAX_QPS !== undefined) {
    const problem = wholeNumber(env.RECOVERY_MAX_QPS, { min: 1, max: 300 });
    if (problem) add('recoveryMaxQps (RECOVERY_MAX_QPS)', problem, 'WeChat queries per second the sweeper may make');
  }
  if (env.RECOVERY_STILL_PENDING_HOURS !== undefined) {
    const problem = wholeNumber(env.RECOVERY_STILL_PENDING_HOURS, { min: 1, max: 720 });
    if (problem) add('recoveryStillPendingHours (RECOVERY_STILL_PENDING_HOURS)', problem);
  }

  if (throttle === undefined) return problems;
  const rate = throttle.ThrottlingRateLimit;
  if (!(typeof rate === 'number' || (typeof rate === 'string' && rate.trim() !== '')) || !(Number(rate) > 0)) {
    add('apiThrottleRateLimit', `must be a number of requests per second above 0 (got ${JSON.stringify(rate ?? '')})`);
  }
  const burst = wholeNumber(throttle.ThrottlingBurstLimit ?? '', { min: 1, max: 5_000 });
  if (burst) add('apiThrottleBurstLimit', burst, 'Requests the HTTP API stage takes at once');
  return problems;
}

/** The refusal: one message, every problem. */
export function refusalMessage(stage, command, problems) {
  return [
    `Refusing to ${command} stage "${stage}": ${problems.length === 1 ? 'one stage parameter is' : `${problems.length} stage parameters are`} missing or invalid.`,
    'Set each with --param="name=value" (or the environment variable in parentheses, or a params.' + stage + ' block in serverless.yml):',
    ...problems.map((problem) => `  - ${problem}`),
  ].join('\n');
}

/** True when `id` is named anywhere in `value` (Ref, Fn::GetAtt, DependsOn, Fn::Sub) outside its own definition. */
function references(value, id) {
  if (typeof value === 'string') return value === id || value.includes(`\${${id}}`) || value.includes(`\${${id}.`);
  if (Array.isArray(value)) return value.some((item) => references(item, id));
  if (value && typeof value === 'object') return Object.values(value).some((item) => references(item, id));
  return false;
}

/**
 * Deletes `roleId` from the template when nothing uses it; throws naming the users otherwise (a function without
 * `iamRoleStatements` of its own would silently share it).
 */
export function removeUnusedRole(template, roleId) {
  const resources = template.Resources ?? {};
  if (!(roleId in resources)) return false;
  const users = Object.entries(resources)
    .filter(([id, resource]) => id !== roleId && references(resource, roleId))
    .map(([id]) => id);
  if (Object.entries(template.Outputs ?? {}).some(([, output]) => references(output, roleId))) users.push('Outputs');
  if (users.length > 0) {
    throw new Error(
      `${roleId} (the framework's shared Lambda role) is still used by ${users.join(', ')}: give every function ` +
        'its own iamRoleStatements (an empty list for logging only)',
    );
  }
  delete resources[roleId];
  return true;
}

/**
 * CloudWatch alarms for every function: Errors (an exception, a timeout, an out-of-memory), Throttles, and p99
 * Duration above `durationOfTimeout` of the function's timeout (a near miss: the next slow call times out).
 * `functions` maps a function's name to its definition; `logicalIdOf` / `resourcePrefixOf` come from the provider's
 * naming (XLambdaFunction, X).
 */
export function functionAlarms({ service, stage, functions, defaultTimeout, topic, logicalIdOf, resourcePrefixOf, durationOfTimeout = 0.8, period = 300 }) {
  const resources = {};
  for (const [name, definition] of Object.entries(functions)) {
    const timeoutSeconds = Number(definition.timeout ?? defaultTimeout ?? 6);
    const common = {
      Namespace: 'AWS/Lambda',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalIdOf(name) } }],
      Period: period,
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      AlarmActions: [topic],
    };
    const prefix = resourcePrefixOf(name);
    resources[`${prefix}ErrorsAlarm`] = {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: `${service}-${stage}-${name}-errors`,
        AlarmDescription: `${name} failed (an uncaught exception, a timeout or out of memory); see its log group`,
        MetricName: 'Errors',
        Statistic: 'Sum',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        ...common,
      },
    };
    resources[`${prefix}ThrottlesAlarm`] = {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: `${service}-${stage}-${name}-throttles`,
        AlarmDescription: `${name} was throttled (account or reserved concurrency exhausted); requests were refused`,
        MetricName: 'Throttles',
        Statistic: 'Sum',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        ...common,
      },
    };
    const threshold = Math.round(timeoutSeconds * 1000 * durationOfTimeout);
    resources[`${prefix}DurationAlarm`] = {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: `${service}-${stage}-${name}-duration`,
        AlarmDescription: `${name} p99 duration is above ${threshold} ms, ${Math.round(durationOfTimeout * 100)} % of its ${timeoutSeconds} s timeout`,
        MetricName: 'Duration',
        ExtendedStatistic: 'p99',
        Threshold: threshold,
        ComparisonOperator: 'GreaterThanThreshold',
        ...common,
      },
    };
  }
  return resources;
}

export default class ProductionPlugin {
  constructor(serverless, options = {}, logging = {}) {
    this.serverless = serverless;
    this.options = options;
    this.log = logging.log;
    this.hooks = {
      // Before every other plugin's (this plugin is listed first): serverless-esbuild reads its options here.
      initialize: () => {
        this.useOfflineWorkFolder();
        this.checkStage();
      },
      // After every function has its own role (serverless-iam-roles-per-function, before:package:finalize) and the
      // `resources:` section is merged, just before the template is written.
      'before:aws:package:finalize:saveServiceState': () => this.finishTemplate(),
    };
  }

  get settings() {
    return this.serverless.service.custom?.production ?? {};
  }

  get commands() {
    return this.serverless.processedInput?.commands ?? [];
  }

  get stage() {
    return this.serverless.getProvider?.('aws')?.getStage?.() ?? this.options.stage ?? this.serverless.service.provider.stage;
  }

  fail(message) {
    const ServerlessError = this.serverless.classes?.Error ?? Error;
    throw new ServerlessError(message, 'PRODUCTION_CHECK');
  }

  useOfflineWorkFolder() {
    const folder = this.settings.offlineWorkFolder;
    if (this.commands[0] !== 'offline' || blank(folder)) return;
    const custom = (this.serverless.service.custom ??= {});
    custom.esbuild = { ...custom.esbuild, outputWorkFolder: folder };
  }

  checkStage() {
    const [command, subcommand] = this.commands;
    const deploying = command === 'deploy' && subcommand !== 'list';
    if (command !== 'package' && !deploying) return;
    const stage = this.stage;
    const localStage = this.settings.localStage ?? LOCAL_STAGE;
    if (stage === localStage) {
      if (deploying) {
        this.fail(`Refusing to deploy stage "${stage}": it is the local stack (a secrets file, DynamoDB Local, the sandbox). Deploy another stage, e.g. --stage prod.`);
      }
      return;
    }
    const { service } = this.serverless;
    const throttle = service.resources?.extensions?.HttpApiStage?.Properties?.DefaultRouteSettings;
    const sweeperEnv = service.functions?.recoverySweeper?.environment ?? {};
    const problems = stageParamProblems({ ...(service.provider.environment ?? {}), ...sweeperEnv }, throttle);
    if (problems.length > 0) this.fail(refusalMessage(stage, deploying ? 'deploy' : 'package', problems));
    this.log?.verbose?.(`Stage "${stage}" parameters checked`);
  }

  finishTemplate() {
    const { service } = this.serverless;
    const template = service.provider.compiledCloudFormationTemplate;
    const naming = this.serverless.getProvider('aws').naming;
    try {
      removeUnusedRole(template, naming.getRoleLogicalId());
    } catch (error) {
      this.fail(error.message);
    }
    // --param values arrive as strings; the stage's limits are numbers in CloudFormation.
    const routeSettings = template.Resources.HttpApiStage?.Properties?.DefaultRouteSettings ?? {};
    for (const limit of ['ThrottlingRateLimit', 'ThrottlingBurstLimit']) {
      if (typeof routeSettings[limit] === 'string') routeSettings[limit] = Number(routeSettings[limit]);
    }
    const alarms = this.settings.functionAlarms;
    if (!alarms) return;
    const topic = alarms.topic ?? 'AlarmTopic';
    if (!(topic in template.Resources)) this.fail(`custom.production.functionAlarms.topic: no resource ${topic} in the template`);
    Object.assign(
      template.Resources,
      functionAlarms({
        service: service.service,
        stage: this.stage,
        functions: Object.fromEntries(service.getAllFunctions().map((name) => [name, service.getFunction(name)])),
        defaultTimeout: service.provider.timeout,
        topic: { Ref: topic },
        logicalIdOf: (name) => naming.getLambdaLogicalId(name),
        resourcePrefixOf: (name) => naming.getNormalizedFunctionName(name),
        ...(alarms.durationOfTimeout !== undefined ? { durationOfTimeout: Number(alarms.durationOfTimeout) } : {}),
        ...(alarms.period !== undefined ? { period: Number(alarms.period) } : {}),
      }),
    );
  }
}
