import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { DeleteItemCommand, QueryCommand, ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { APIGatewayProxyStructuredResultV2, SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler as createHandler } from '../../../functions/http/create-repayment-contract';
import { handler as terminateHandler } from '../../../functions/http/terminate-repayment-contract';
import { handler as createScheduleHandler } from '../../../functions/http/create-repayment-schedule';
import { handler as getScheduleHandler } from '../../../functions/http/get-repayment-schedule';
import { handler as createRepaymentHandler } from '../../../functions/http/create-repayment';
import { handler as getRepaymentHandler } from '../../../functions/http/get-repayment';
import { handler as getHandler } from '../../../functions/http/get-repayment-contract';
import { handler as contractNotifyHandler } from '../../../functions/notify/repayment-contract';
import { handler as repaymentNotifyHandler } from '../../../functions/notify/repayment';
import { handler as queueHandler } from '../../../functions/queue/presign-repayment-contract';
import type { Runtime } from '../../../shared/runtime/container';
import type { RunningSandbox } from '../../../sandbox/index';
import { localStack, testDynamoDbClient } from '../../support/env';
import { changedSecrets, httpEvent, startFlowStack, type FlowStack } from '../../support/flow';
import type { ServedHandlers } from '../../support/lambda-http';
import { buildNotification, type NotificationKeys } from '../../support/notifications';

/**
 * The credit-repayment contract flow against DynamoDB Local and a private sandbox (this file switches sandbox
 * faults on): presign over HTTP and from SQS events, the person signs or declines on the redirect_url, the sandbox
 * delivers SIGN_CONTRACT / DEDUCTION_PAY / TERMINATE_CONTRACT to our notify handlers over real HTTP, GET reports.
 */
type Result = APIGatewayProxyStructuredResultV2;

// The plain-text identities used in this file: the last test proves none of them is logged or stored.
// Unusual on purpose, so a hit can only come from this file (the table is shared by the whole run).
const PEOPLE = [
  { name: '欧阳娜娜', mask: '***娜', id: '320583198706124574' },
  { name: '岳飞', mask: '*飞', id: '510107199202283610' },
  { name: '上官婉儿', mask: '***儿', id: '42011119881109002x' }, // lower-case check character, sent upper-case
] as const;
// The person in events/presign-repayment-contract.sqs.json, presigned by the sample-event test.
const EXPIRED_CERT_PEM = readFileSync(new URL('../../fixtures/vectors/wechat_pay_certificate.pem', import.meta.url), 'utf8');
const EXPIRED_CERT_SERIAL = '440024045C4A427599D09BB4E3DE0279F2E813FD';
const SAMPLE_PERSON = { name: '诸葛孔明', id: '330106197509238882' };

let flow: FlowStack;
let sandbox: RunningSandbox;
let served: ServedHandlers;
let rt: Runtime;
let dynamo: DynamoDBClient;
let failPresign = false;
let keys: NotificationKeys;
let partner: { mchid: string; appid: string };
const output: string[] = [];

const uniq = (prefix: string) => `${prefix}${Date.now().toString(36)}${randomBytes(5).toString('hex')}`.toUpperCase();

const event = httpEvent;

const parse = (result: Result) => JSON.parse(result.body ?? '{}') as Record<string, any>;
const create = async (body: unknown) => (await createHandler(event(body))) as Result;
const get = async (code: string) => (await getHandler(event('', { pathParameters: { out_contract_code: code } }))) as Result;
const view = async (code: string) => parse(await get(code));

function contractBody(options: { person?: (typeof PEOPLE)[number]; trade?: boolean | { deduct_amount: string }; over?: Record<string, unknown> } = {}) {
  const person = options.person ?? PEOPLE[0];
  const trade = options.trade ?? true;
  return {
    plan_id: 'PLAN_REPAY_001',
    out_contract_code: uniq('RC'),
    repayment_day: 5,
    repayment_amount_limit: '10000',
    real_identity: { identity_type: 'REAL_IDENTITY_TYPE_ID_CARD', identity_id: person.id, real_name: person.name },
    ...(trade
      ? {
          trade_info: {
            out_trade_no: uniq('RT'),
            deduct_amount: typeof trade === 'object' ? trade.deduct_amount : '5000',
            description: '信贷还款',
            attach: '首期',
          },
        }
      : {}),
    ...options.over,
  };
}

const act = (body: Record<string, unknown>) => flow.act(body);

async function eventually<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let messageSeq = 0;
function sqsRecord(body: unknown, messageId = `msg-${++messageSeq}-${randomBytes(4).toString('hex')}`): SQSRecord {
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: String(Date.now()),
      SenderId: 'AIDATEST',
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:presign-repayment-contract',
    awsRegion: 'us-east-1',
  };
}
const sqs = (...records: SQSRecord[]): SQSEvent => ({ Records: records });

const lastSeq = () => sandbox.notifications.list().at(-1)?.seq ?? 0;
const presignCalls = () => flow.calls.filter((c) => c === 'POST /v3/credit-repayment/partner/contracts/h5-presign').length;
const stored = (pk: string, sk: string) => rt.claims.get<Record<string, any>>({ pk, sk });

async function notify(path: '/notify/repayment-contract' | '/notify/repayment', eventType: string, resource: unknown) {
  const n = buildNotification(keys, { eventType, resource, associatedData: '', originalType: 'credit_repayment' });
  const handler = path === '/notify/repayment' ? repaymentNotifyHandler : contractNotifyHandler;
  return (await handler(event(n.body, { headers: n.headers }))) as Result;
}

beforeAll(async () => {
  // Everything this process writes: console.* and the raw streams (Powertools logs through its own Console).
  for (const method of ['log', 'error', 'warn', 'info', 'debug'] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      output.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
    });
  }
  for (const stream of [process.stdout, process.stderr]) {
    vi.spyOn(stream, 'write').mockImplementation(((chunk: unknown, ...rest: unknown[]) => {
      output.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      (rest.find((r) => typeof r === 'function') as (() => void) | undefined)?.();
      return true;
    }) as typeof stream.write);
  }
  flow = await startFlowStack({
    routes: {
      'POST /notify/repayment-contract': contractNotifyHandler as never,
      'POST /notify/repayment': repaymentNotifyHandler as never,
    },
    intercept: (url) => (failPresign && url.pathname.endsWith('/h5-presign') ? Promise.reject(new TypeError('fetch failed')) : undefined),
  });
  ({ sandbox, served, rt } = flow);
  dynamo = testDynamoDbClient();
  partner = flow.merchant('partner');
  keys = flow.notificationKeys('partner');
});

afterAll(async () => {
  vi.restoreAllMocks();
  await flow?.close();
  dynamo?.destroy();
});

beforeEach(async () => {
  failPresign = false;
  await flow.reset();
});

// Every flow through the sandbox's notifications runs twice: with full payloads, and with only the business keys
// (the notifications' field lists are unpublished), where the query APIs must supply state, amounts and binding.
describe.each(['full', 'minimal'] as const)('POST /repayment-contracts → sign → notifications → GET (%s notification payloads)', (payload) => {
  beforeEach(async () => {
    await sandbox.faults.set({ notifyPayload: payload });
  });

  it('presigns with the first repayment, and the signing and the repayment both reach the contract', async () => {
    const body = contractBody();
    const res = await create(body);
    expect(res.statusCode).toBe(201);
    const answer = parse(res);
    expect(Object.keys(answer).sort()).toEqual(['out_contract_code', 'redirect_url', 'redirect_url_expires_at', 'state']);
    expect(answer).toMatchObject({ out_contract_code: body.out_contract_code, state: 'PRESIGNED' });
    expect(answer.redirect_url).toContain('presign_token=');
    const ttl = Date.parse(answer.redirect_url_expires_at) - Date.now();
    expect(ttl).toBeGreaterThan(590_000);
    expect(ttl).toBeLessThanOrEqual(600_000);
    expect(flow.calls).toEqual(['POST /v3/credit-repayment/partner/contracts/h5-presign']);

    // What WeChat got: the mask it checks against the real name, and our own notify URLs.
    const [sent] = sandbox.state.listContracts().repayment.filter((c) => c.out_contract_code === body.out_contract_code);
    expect(sent).toMatchObject({
      appid: partner.appid,
      display_name: PEOPLE[0].mask,
      contract_notify_url: `${served.url}/notify/repayment-contract`,
      trade_info: { notify_url: `${served.url}/notify/repayment`, deduct_amount: '5000' },
    });

    const seqBefore = lastSeq();
    const signed = await act({ url: answer.redirect_url, action: 'sign' });
    expect(signed.status).toBe(200);
    const contract = await eventually(
      () => view(body.out_contract_code),
      (v) => v.state === 'SIGNED' && v.first_repayment?.state === 'PAY_SUCCESS',
    );
    expect(contract).toMatchObject({
      out_contract_code: body.out_contract_code,
      state: 'SIGNED',
      plan_id: 'PLAN_REPAY_001',
      appid: partner.appid,
      display_name: PEOPLE[0].mask,
      repayment_amount_limit: '10000',
      repayment_day: 5,
      contract_id: signed.json.target.contract_id,
      first_repayment: { out_trade_no: body.trade_info!.out_trade_no, deduct_amount: '5000', state: 'PAY_SUCCESS', pay_success_amount: '5000' },
    });
    expect(contract.openid).toEqual(expect.any(String));
    expect(contract.contract_signed_time).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(contract.first_repayment.transaction_id).toEqual(expect.any(String));
    expect(contract).not.toHaveProperty('redirect_url');

    // Each delivered once, acknowledged with 204 (the sandbox logs an attempt once our answer is in).
    for (const type of ['CREDIT_REPAYMENT.SIGN_CONTRACT', 'CREDIT_REPAYMENT.DEDUCTION_PAY']) {
      const attempt = await sandbox.notifications.waitFor((a) => a.seq > seqBefore && a.event === type);
      expect(attempt).toMatchObject({ ok: true, status: 204, attempt: 1, target: expect.stringContaining(served.url) });
    }
    if (payload === 'full') {
      // The notifications were complete: no query was needed.
      expect(flow.calls).toEqual(['POST /v3/credit-repayment/partner/contracts/h5-presign']);
    } else {
      // Only keys: each event was confirmed (and bound to our merchant and plan) by its query.
      expect(new Set(flow.calls.slice(1))).toEqual(
        new Set([
          `GET /v3/credit-repayment/partner/contracts/${body.out_contract_code}`,
          `GET /v3/credit-repayment/partner/deduct-orders/${body.trade_info!.out_trade_no}`,
        ]),
      );
    }

    // The person terminates in WeChat: TERMINATE_CONTRACT moves the contract on.
    expect((await act({ out_contract_code: body.out_contract_code, action: 'terminate' })).status).toBe(200);
    const ended = await eventually(() => view(body.out_contract_code), (v) => v.state === 'TERMINATED');
    expect(ended).toMatchObject({ state: 'TERMINATED', contract_terminated_mode: 'TERMINATION_MODE_BY_USER', contract_id: contract.contract_id });
    expect(ended.contract_terminated_time).toMatch(/^\d{4}-/);
    expect(ended.first_repayment.state).toBe('PAY_SUCCESS');
  });

  it('presigns without trade_info (display_name given, appid defaulted) and signs', async () => {
    const body = contractBody({ person: PEOPLE[1], trade: false, over: { display_name: PEOPLE[1].mask } });
    const answer = parse(await create(body));
    expect(answer.state).toBe('PRESIGNED');
    expect((await act({ url: answer.redirect_url, action: 'sign' })).status).toBe(200);
    const contract = await eventually(() => view(body.out_contract_code), (v) => v.state === 'SIGNED');
    expect(contract).toMatchObject({ state: 'SIGNED', appid: partner.appid, display_name: '*飞' });
    expect(contract).not.toHaveProperty('first_repayment');
    expect(contract.contract_id).toEqual(expect.any(String));
  });

  it('declined: no notification; PRESIGNED with its link until the token runs out, then EXPIRED (confirmed once)', async () => {
    const body = contractBody({ person: PEOPLE[2] });
    const answer = parse(await create(body));
    const before = sandbox.notifications.list().length;
    const declined = await act({ url: answer.redirect_url, action: 'decline' });
    expect(declined.status, JSON.stringify(declined.json)).toBe(200);

    const fresh = await view(body.out_contract_code);
    expect(fresh).toMatchObject({ state: 'PRESIGNED', redirect_url: answer.redirect_url, first_repayment: { state: 'PENDING' } });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(sandbox.notifications.list().length).toBe(before);

    flow.clock.offsetMs = 10 * 60 * 1000 + 1_000;
    flow.calls.length = 0;
    const expired = await view(body.out_contract_code);
    expect(expired.state).toBe('EXPIRED');
    expect(expired).not.toHaveProperty('redirect_url');
    expect(flow.calls).toEqual([`GET /v3/credit-repayment/partner/contracts/${body.out_contract_code}`]);
    expect((await stored(`CONTRACT#${body.out_contract_code}`, 'CONTRACT'))?.['state']).toBe('EXPIRED');
    expect((await view(body.out_contract_code)).state).toBe('EXPIRED');
    expect(flow.calls).toHaveLength(1);
  });

  it('a presign whose token ran out unseen but was signed (notification lost) is found SIGNED by the query', async () => {
    const body = contractBody({ trade: false });
    const answer = parse(await create(body));
    await sandbox.faults.set({ notifyDelayMs: 60_000 });
    expect((await act({ url: answer.redirect_url, action: 'sign' })).status).toBe(200);
    sandbox.notifications.cancelAll(); // the SIGN_CONTRACT notification is lost
    flow.clock.offsetMs = 11 * 60 * 1000;
    const contract = await view(body.out_contract_code);
    expect(contract.state).toBe('SIGNED');
    expect(contract.contract_id).toEqual(expect.any(String));
  });
});

describe('POST /repayment-contracts: a contract code is never reusable', () => {
  it('same request → the stored answer; different request → 409; after the token → 409; no further WeChat call', async () => {
    const body = contractBody();
    const first = parse(await create(body));
    const again = await create(JSON.parse(JSON.stringify({ ...body, display_name: PEOPLE[0].mask, appid: partner.appid })));
    expect(again.statusCode).toBe(201);
    expect(again.headers?.['idempotent-replayed']).toBe('true');
    expect(parse(again)).toEqual(first);

    const lowerX = await create({ ...body, real_identity: { ...body.real_identity, identity_id: PEOPLE[0].id.toLowerCase() } });
    expect(lowerX.statusCode).toBe(201);

    const other = await create({ ...body, real_identity: { ...body.real_identity, real_name: '欧阳娜' } });
    expect(other.statusCode).toBe(409);
    expect(parse(other).code).toBe('CONTRACT_CODE_USED');
    const otherAmount = await create({ ...body, repayment_amount_limit: '20000' });
    expect(parse(otherAmount).code).toBe('CONTRACT_CODE_USED');

    flow.clock.offsetMs = 10 * 60 * 1000;
    const late = await create(body);
    expect(late.statusCode).toBe(409);
    expect(parse(late).code).toBe('PRESIGN_EXPIRED');
    expect(parse(late).detail).toMatch(/new one/);
    expect(presignCalls()).toBe(1);
  });

  it('concurrent identical requests make one WeChat call and all get its answer', async () => {
    const body = contractBody();
    const results = await Promise.all(Array.from({ length: 8 }, () => create(body)));
    expect(results.map((r) => r.statusCode)).toEqual(Array(8).fill(201));
    expect(new Set(results.map((r) => parse(r).redirect_url)).size).toBe(1);
    expect(presignCalls()).toBe(1);
  });

  it('validation errors are 400s naming the field, and call nothing', async () => {
    const body = contractBody({ over: { display_name: '*娜' } });
    const res = await create(body);
    expect(res.statusCode).toBe(400);
    expect(parse(res).errors).toEqual([{ field: 'display_name', message: expect.stringContaining('mask') }]);
    const notify = await create({ ...body, display_name: undefined, contract_notify_url: 'https://x.example/n' });
    expect(parse(notify).errors).toEqual([{ field: 'contract_notify_url', message: 'is set by the service and must not be sent' }]);
    const id = await create(contractBody({ over: { real_identity: { identity_type: 'REAL_IDENTITY_TYPE_ID_CARD', identity_id: '320583198706124575', real_name: '岳飞' } } }));
    expect(parse(id).errors).toEqual([{ field: 'real_identity.identity_id', message: expect.any(String) }]);
    expect(flow.calls).toEqual([]);
    expect(await stored(`CONTRACT#${body.out_contract_code}`, 'CONTRACT')).toBeUndefined();
  });

  it('a definitive WeChat refusal is answered again without a call, and the corrected request may use the same code', async () => {
    const body = contractBody({ over: { plan_id: 'NOT_MY_PLAN' } });
    const res = await create(body);
    expect(res.statusCode).toBe(422);
    expect(parse(res)).toMatchObject({ code: 'PARAM_ERROR', wechatpay: { status: 400, code: 'PARAM_ERROR', field: 'plan_id' } });
    const again = await create(body);
    expect(again.statusCode).toBe(422);
    expect(presignCalls()).toBe(1);
    expect(await view(body.out_contract_code)).toMatchObject({ state: 'REJECTED', error: { code: 'PARAM_ERROR' } });
    // The first repayment's out_trade_no was given back (WeChat consumed nothing).
    expect(await stored(`REPAY#${body.trade_info!.out_trade_no}`, 'REPAYMENT')).toBeUndefined();
    // WeChat created nothing: the corrected request takes the code, once, even when sent twice at the same time.
    const fixedBody = { ...body, plan_id: 'PLAN_REPAY_001' };
    const [fixed, racing] = await Promise.all([create(fixedBody), create(fixedBody)]);
    expect([fixed.statusCode, racing.statusCode].sort()).toEqual([201, 201]);
    expect(presignCalls()).toBe(2);
    expect(await view(body.out_contract_code)).toMatchObject({ state: 'PRESIGNED', plan_id: 'PLAN_REPAY_001' });
    // And it is used now: neither the refused body nor another one gets it back.
    expect(parse(await create(body)).code).toBe('CONTRACT_CODE_USED');
  });

  it('a refusal saying the code is taken keeps it used', async () => {
    const body = contractBody({ trade: false });
    expect((await create(body)).statusCode).toBe(201);
    // Another system presigned this code with WeChat: our store does not know it.
    await dynamo.send(new DeleteItemCommand({ TableName: localStack().tableName, Key: marshall({ pk: `CONTRACT#${body.out_contract_code}`, sk: 'CONTRACT' }) }));
    const res = await create({ ...body, repayment_day: 7 });
    expect(res.statusCode).toBe(422);
    expect(parse(res).wechatpay.message ?? parse(res).message).toContain('已使用');
    expect(parse(await create({ ...body, repayment_day: 8 })).code).toBe('CONTRACT_CODE_USED');
    expect(presignCalls()).toBe(2);
  });

  it('a lost answer is 503, and only the identical request may ask again', async () => {
    const body = contractBody({ trade: false });
    failPresign = true;
    const lost = await create(body);
    expect(lost.statusCode).toBe(503);
    expect((await get(body.out_contract_code)).statusCode).toBe(404);
    failPresign = false;
    expect(parse(await create({ ...body, repayment_day: 6 })).code).toBe('CONTRACT_CODE_USED');
    const retried = await create(body);
    expect(retried.statusCode).toBe(201);
    expect(parse(retried).state).toBe('PRESIGNED');
  });

  it('WeChat acted but its answer was lost, and the retry is refused as a used code: REJECTED, nothing given back', async () => {
    const body = contractBody();
    await sandbox.faults.set({ timeout: 1, timeoutMode: 'after', timeoutHangMs: 5_000, match: '/h5-presign' });
    const res = await create(body);
    expect(res.statusCode).toBe(422);
    expect(parse(res)).toMatchObject({ code: 'INVALID_REQUEST', wechatpay: { status: 400 } });
    expect(presignCalls()).toBe(2); // the client's own retry after the timeout
    expect(await view(body.out_contract_code)).toMatchObject({ state: 'REJECTED', error: { code: 'INVALID_REQUEST' } });
    // WeChat may hold the first repayment's out_trade_no now: it stays with this contract.
    expect(await stored(`REPAY#${body.trade_info!.out_trade_no}`, 'REPAYMENT')).toMatchObject({ out_contract_code: body.out_contract_code });
    await sandbox.faults.set({ match: '' });
  });

  it('certificate mode: an expired platform certificate is refused before WeChat is called; the code is not used', async () => {
    const body = contractBody();
    // The merchant still has only its old platform certificate (valid 2022-05-10 … 2025-05-09).
    const expiredOnly = changedSecrets(flow, (secret) => ({ ...secret, wechatpayPublicKeys: { [EXPIRED_CERT_SERIAL]: EXPIRED_CERT_PEM } }));
    flow.use(flow.runtimeWith({}, { secrets: expiredOnly }));
    try {
      const res = await create(body);
      expect(res.statusCode).toBe(500);
      expect(parse(res).code).toBe('MISCONFIGURED');
    } finally {
      flow.use(rt);
    }
    expect(presignCalls()).toBe(0);
    expect((await get(body.out_contract_code)).statusCode).toBe(404);
    expect(await stored(`REPAY#${body.trade_info!.out_trade_no}`, 'REPAYMENT')).toBeUndefined();
    // Fixed secret, same request: it goes through.
    expect((await create(body)).statusCode).toBe(201);
  });

  it('GET of an unknown or malformed code', async () => {
    expect((await get(uniq('RC'))).statusCode).toBe(404);
    const bad = await get('not-a-code');
    expect(bad.statusCode).toBe(400);
    expect(parse(bad).errors[0].field).toBe('out_contract_code');
  });
});

describe('POST /repayment-contracts/{out_contract_code}/terminate', () => {
  const terminate = async (code: string, remark = '贷款已结清') =>
    (await terminateHandler(event({ remark }, { pathParameters: { out_contract_code: code } }))) as Result;
  const terminateCalls = () => flow.calls.filter((c) => c === 'POST /v3/credit-repayment/partner/contracts/terminate').length;
  async function signedContract(): Promise<string> {
    const body = contractBody({ trade: false });
    const answer = parse(await create(body));
    expect((await act({ url: answer.redirect_url, action: 'sign' })).status).toBe(200);
    await eventually(() => view(body.out_contract_code), (v) => v.state === 'SIGNED');
    return body.out_contract_code;
  }

  it('before signing: 409 with the state it is in, nothing sent', async () => {
    const body = contractBody({ trade: false });
    expect((await create(body)).statusCode).toBe(201);
    const refused = await terminate(body.out_contract_code);
    expect(refused.statusCode).toBe(409);
    expect(parse(refused)).toMatchObject({ code: 'CONTRACT_NOT_IN_FORCE', detail: expect.stringContaining('PRESIGNED') });
    expect(terminateCalls()).toBe(0);
    expect((await terminate('RCUNKNOWN0000001')).statusCode).toBe(404);
  });

  it('after signing: TERMINATED by the merchant; again answers the stored result with no call; the TERMINATE_CONTRACT notification that follows changes nothing twice', async () => {
    const code = await signedContract();
    const ended = await terminate(code);
    expect(ended.statusCode, ended.body).toBe(200);
    expect(parse(ended)).toMatchObject({ state: 'TERMINATED', contract_terminated_mode: 'TERMINATION_MODE_BY_MERCHANT', contract_termination_remark: '贷款已结清' });
    expect(sandbox.state.listContracts().repayment.find((c) => c.out_contract_code === code)?.status).toBe('TERMINATED');
    await sandbox.notifications.waitFor((a) => a.event === 'CREDIT_REPAYMENT.TERMINATE_CONTRACT' && a.ok);
    const again = await terminate(code, '再次');
    expect(again.statusCode).toBe(200);
    expect(parse(again).state).toBe('TERMINATED');
    expect(terminateCalls()).toBe(1);
    const stored = await rt.claims.get<Record<string, any>>({ pk: `CONTRACT#${code}`, sk: 'CONTRACT' });
    expect(stored?.state).toBe('TERMINATED');
    // Our call and WeChat's notification both say TERMINATED; whichever came first moved the state (its id is
    // recorded), the other changed nothing: exactly one of the two ids.
    const notified = new Set(sandbox.notifications.list().filter((a) => a.event === 'CREDIT_REPAYMENT.TERMINATE_CONTRACT').map((a) => a.id));
    const movers = [...(stored?.event_ids ?? [])].filter((id: string) => id === `terminate:${code}` || notified.has(id));
    expect(movers).toHaveLength(1);
  });

  it('the user ended it in WeChat a moment before: WeChat refuses ours, the query decides, TERMINATED by the user', async () => {
    const code = await signedContract();
    await sandbox.faults.set({ notifyDelayMs: 60_000 }); // the user's TERMINATE_CONTRACT has not reached us yet
    expect((await act({ out_contract_code: code, action: 'terminate' })).status).toBe(200);
    const ended = await terminate(code);
    expect(ended.statusCode, ended.body).toBe(200);
    expect(parse(ended)).toMatchObject({ state: 'TERMINATED', contract_terminated_mode: 'TERMINATION_MODE_BY_USER' });
    expect(flow.calls).toContain(`GET /v3/credit-repayment/partner/contracts/${code}`);
  });

  it('a lost answer after WeChat ended it: the query decides, TERMINATED; concurrent requests end it once', async () => {
    const code = await signedContract();
    await sandbox.faults.set({ timeout: 1, timeoutMode: 'after', timeoutHangMs: 5_000, match: '/contracts/terminate' });
    const ended = await terminate(code);
    expect(ended.statusCode, ended.body).toBe(200);
    expect(parse(ended).state).toBe('TERMINATED');
    await sandbox.faults.set({ match: '', timeout: 0 });
    const other = await signedContract();
    const results = await Promise.all([terminate(other), terminate(other), terminate(other)]);
    expect(results.map((r) => r.statusCode)).toEqual([200, 200, 200]);
    expect(results.map((r) => parse(r).state)).toEqual(['TERMINATED', 'TERMINATED', 'TERMINATED']);
  });
});

describe('schedules and repayments after signing', () => {
  const SUB_MCHID = '1900000109';
  const post = async (handler: unknown, code: string, body: unknown) =>
    (await (handler as (e: unknown) => Promise<Result>)(event(body, { pathParameters: { out_contract_code: code } }))) as Result;
  const getOne = async (handler: unknown, code: string, name: string, value: string) =>
    (await (handler as (e: unknown) => Promise<Result>)(event('', { pathParameters: { out_contract_code: code, [name]: value } }))) as Result;
  const day = (offsetDays: number) => new Date(Date.now() + 8 * 3600 * 1000 + offsetDays * 86_400_000).toISOString().slice(0, 10);
  const calls = (path: string) => flow.calls.filter((c) => c === `POST /v3/credit-repayment/partner/${path}`).length;

  async function signedContract(): Promise<string> {
    const body = contractBody({ trade: false });
    const answer = parse(await create(body));
    expect((await act({ url: answer.redirect_url, action: 'sign' })).status).toBe(200);
    await eventually(() => view(body.out_contract_code), (v) => v.state === 'SIGNED' && v.contract_id);
    return body.out_contract_code;
  }
  async function scheduled(code: string, amount = '5000', min?: string): Promise<string> {
    const id = uniq('SR');
    const res = await post(createScheduleHandler, code, { out_record_id: id, repayment_amount: amount, ...(min ? { min_repayment_amount: min } : {}), repayment_date: day(3), sub_mchid: SUB_MCHID });
    expect(res.statusCode, res.body).toBe(201);
    return id;
  }
  const repay = (code: string, body: Record<string, unknown>) => post(createRepaymentHandler, code, body);

  it('a schedule outside WeChat\'s date window is 400 naming the rule, nothing sent; inside it is SCHEDULED, replayed, and GET shows it', async () => {
    const code = await signedContract();
    const id = uniq('SR');
    for (const date of [day(0), day(15), '2026-02-30']) {
      const refused = await post(createScheduleHandler, code, { out_record_id: id, repayment_amount: '5000', repayment_date: date, sub_mchid: SUB_MCHID });
      expect(refused.statusCode).toBe(400);
      expect(parse(refused).errors).toEqual([{ field: 'repayment_date', message: expect.stringContaining('14 days') }]);
    }
    const over = await post(createScheduleHandler, code, { out_record_id: id, repayment_amount: '10001', repayment_date: day(2), sub_mchid: SUB_MCHID });
    expect(parse(over).errors).toEqual([{ field: 'repayment_amount', message: expect.stringContaining('repayment_amount_limit') }]);
    expect(calls('schedule-records/batch-create')).toBe(0);
    const body = { out_record_id: id, repayment_amount: '5000', repayment_date: day(2), sub_mchid: SUB_MCHID };
    const made = await post(createScheduleHandler, code, body);
    expect(made.statusCode, made.body).toBe(201);
    expect(parse(made)).toMatchObject({ out_record_id: id, state: 'SCHEDULED', repayment_amount: '5000', repayment_date: day(2) });
    expect((await post(createScheduleHandler, code, body)).headers?.['idempotent-replayed']).toBe('true');
    expect(parse(await post(createScheduleHandler, code, { ...body, repayment_amount: '4000' })).code).toBe('OUT_RECORD_ID_USED');
    expect(calls('schedule-records/batch-create')).toBe(1);
    expect(parse(await getOne(getScheduleHandler, code, 'out_record_id', id))).toMatchObject({ state: 'SCHEDULED', out_contract_code: code });
  });

  it('several repayments, settled out of order, each its own record listed on the contract; a partial one keeps both amounts; a silent failure is found by the query', async () => {
    await sandbox.faults.set({ deductionOutcome: 'manual' });
    const code = await signedContract();
    const [r1, r2, r3] = [uniq('RP'), uniq('RP'), uniq('RP')];
    const s1 = await scheduled(code);
    const s2 = await scheduled(code, '6000', '1000');
    const s3 = await scheduled(code);
    for (const [no, rec, amount] of [[r1, s1, '5000'], [r2, s2, '6000'], [r3, s3, '5000']] as const) {
      const res = await repay(code, { out_trade_no: no, out_record_id: rec, deduct_amount: amount, description: '分期还款' });
      expect(res.statusCode, res.body).toBe(201);
      expect(parse(res)).toMatchObject({ out_trade_no: no, state: 'PENDING', out_contract_code: code });
    }
    // Settled in another order than started: the second in part, then the first; the third fails without a word.
    expect((await act({ out_trade_no: r2, action: 'repay-success', amount: '2500' })).status).toBe(200);
    expect((await act({ out_trade_no: r1, action: 'repay-success' })).status).toBe(200);
    expect((await act({ out_trade_no: r3, action: 'repay-fail' })).status).toBe(200);
    const get = async (no: string) => parse(await getOne(getRepaymentHandler, code, 'out_trade_no', no));
    expect(await eventually(() => get(r2), (v) => v.state === 'PAY_SUCCESS')).toMatchObject({ deduct_amount: '6000', pay_success_amount: '2500' });
    expect((await eventually(() => get(r1), (v) => v.state === 'PAY_SUCCESS')).pay_success_amount).toBe('5000');
    expect((await get(r3)).state).toBe('PENDING'); // young, and no notification: from the table
    flow.clock.offsetMs = 61_000;
    expect((await get(r3)).state).toBe('PAY_FAIL');
    const contract = await view(code);
    expect(contract.repayments.map((r: Record<string, any>) => [r.out_trade_no, r.state])).toEqual([[r1, 'PAY_SUCCESS'], [r2, 'PAY_SUCCESS'], [r3, 'PAY_FAIL']]);
  });

  it('the same repayment again is answered without a call; another body for the number is 409; concurrent copies make one call; a repayment needs a scheduled record', async () => {
    await sandbox.faults.set({ deductionOutcome: 'manual' });
    const code = await signedContract();
    const rec = await scheduled(code);
    const body = { out_trade_no: uniq('RP'), out_record_id: rec, deduct_amount: '5000', description: '还款' };
    const results = await Promise.all(Array.from({ length: 5 }, () => repay(code, body)));
    expect(results.map((r) => r.statusCode)).toEqual([201, 201, 201, 201, 201]);
    expect(calls('deduct-orders')).toBe(1);
    expect(parse(await repay(code, { ...body, deduct_amount: '4000' })).code).toBe('OUT_TRADE_NO_USED');
    const unscheduled = await repay(code, { ...body, out_trade_no: uniq('RP'), out_record_id: 'NOSUCHRECORD1' });
    expect(unscheduled.statusCode).toBe(422);
    expect(calls('deduct-orders')).toBe(2);
  });

  it('a repayment notification whose amount is not ours (over what we asked) is kept flagged, never applied', async () => {
    await sandbox.faults.set({ deductionOutcome: 'manual' });
    const code = await signedContract();
    const rec = await scheduled(code);
    const no = uniq('RP');
    expect((await repay(code, { out_trade_no: no, out_record_id: rec, deduct_amount: '5000', description: '还款' })).statusCode).toBe(201);
    const res = await notify('/notify/repayment', 'CREDIT_REPAYMENT.DEDUCTION_PAY', {
      mchid: partner.mchid,
      out_trade_no: no,
      order_state: 'DEDUCT_ORDER_STATE_PAY_SUCCESS',
      deduct_amount: '50000',
      pay_success_amount: '50000',
      transaction_id: uniq('4200'),
    });
    expect(res.statusCode).toBeLessThan(300);
    expect(parse(await getOne(getRepaymentHandler, code, 'out_trade_no', no)).state).toBe('PENDING');
    const flagged = await dynamo.send(new QueryCommand({ TableName: localStack().tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: `UNMATCHED#REPAYMENT#${no}` } } }));
    expect(flagged.Items?.length).toBeGreaterThanOrEqual(1);
  });

  it('terminated contracts take no schedule or repayment (409)', async () => {
    const code = await signedContract();
    expect((await act({ out_contract_code: code, action: 'terminate' })).status).toBe(200);
    await eventually(() => view(code), (v) => v.state === 'TERMINATED');
    const res = await post(createScheduleHandler, code, { out_record_id: uniq('SR'), repayment_amount: '5000', repayment_date: day(2), sub_mchid: SUB_MCHID });
    expect(parse(res)).toMatchObject({ status: 409, code: 'CONTRACT_NOT_IN_FORCE' });
  });
});

describe('the first repayment\'s out_trade_no, reserved with the claim', () => {
  it('another contract\'s number is refused (409 naming the field) before anything is written or sent; a new code with a free number goes through', async () => {
    const first = contractBody();
    expect((await create(first)).statusCode).toBe(201);
    const second = contractBody({ over: { trade_info: { ...first.trade_info, deduct_amount: '3000' } } });
    const refused = await create(second);
    expect(refused.statusCode).toBe(409);
    expect(parse(refused)).toMatchObject({ code: 'OUT_TRADE_NO_USED', errors: [{ field: 'trade_info.out_trade_no' }] });
    expect(presignCalls()).toBe(1);
    expect((await get(second.out_contract_code)).statusCode).toBe(404); // nothing half-written: the code is still free
    expect((await stored(`REPAY#${first.trade_info!.out_trade_no}`, 'REPAYMENT'))?.out_contract_code).toBe(first.out_contract_code);
    const corrected = { ...second, trade_info: { ...second.trade_info!, out_trade_no: uniq('RT') } };
    expect((await create(corrected)).statusCode).toBe(201);
    expect(presignCalls()).toBe(2);
  });
});

describe('presign from the queue (SQS, ReportBatchItemFailures)', () => {
  it('batched terminations: one terminates (a redelivery calls nothing), one not in force is recorded and acknowledged, a lost answer comes again', async () => {
    const body = contractBody({ trade: false });
    const presigned = parse(await create(body));
    const unsigned = contractBody({ trade: false });
    expect((await create(unsigned)).statusCode).toBe(201);
    expect((await act({ url: presigned.redirect_url, action: 'sign' })).status).toBe(200);
    await eventually(() => view(body.out_contract_code), (v) => v.state === 'SIGNED');
    const end = sqsRecord({ action: 'terminate', out_contract_code: body.out_contract_code, remark: '批量解约' });
    const early = sqsRecord({ action: 'terminate', out_contract_code: unsigned.out_contract_code, remark: '批量解约' });
    expect(await queueHandler(sqs(end, early, end))).toEqual({ batchItemFailures: [] });
    expect((await view(body.out_contract_code)).state).toBe('TERMINATED');
    const terminateCalls = () => flow.calls.filter((c) => c === 'POST /v3/credit-repayment/partner/contracts/terminate').length;
    expect(terminateCalls()).toBeLessThanOrEqual(2); // two copies in one batch may both ask; the second is settled by the query
    const before = terminateCalls();
    expect(await queueHandler(sqs(end))).toEqual({ batchItemFailures: [] });
    expect(terminateCalls()).toBe(before);
    expect((await stored(`PRESIGNMSG#${early.messageId}`, 'REJECTED'))?.refusal).toMatchObject({ code: 'CONTRACT_NOT_IN_FORCE' });

    const other = contractBody({ trade: false });
    const otherAnswer = parse(await create(other));
    expect((await act({ url: otherAnswer.redirect_url, action: 'sign' })).status).toBe(200);
    await eventually(() => view(other.out_contract_code), (v) => v.state === 'SIGNED');
    await sandbox.faults.set({ systemError: 10, match: '/contracts/' }); // terminate and its query both fail
    const lost = sqsRecord({ action: 'terminate', out_contract_code: other.out_contract_code, remark: '批量解约' });
    expect(await queueHandler(sqs(lost))).toEqual({ batchItemFailures: [{ itemIdentifier: lost.messageId }] });
    await sandbox.faults.set({ systemError: 0, match: '' });
  });

  it('presigns, answers redeliveries and copies from the record (one WeChat call), and the contract signs', async () => {
    const body = contractBody();
    const message = sqsRecord(body);
    expect(await queueHandler(sqs(message))).toEqual({ batchItemFailures: [] });
    expect(presignCalls()).toBe(1);
    const presigned = await view(body.out_contract_code);
    expect(presigned.state).toBe('PRESIGNED');
    expect((await stored(`CONTRACT#${body.out_contract_code}`, 'CONTRACT'))?.['source']).toBe('queue');

    // The same message redelivered, plus a duplicate send of the same body, in one batch.
    expect(await queueHandler(sqs(message, sqsRecord(body), message))).toEqual({ batchItemFailures: [] });
    expect(presignCalls()).toBe(1);

    expect((await act({ url: presigned.redirect_url, action: 'sign' })).status).toBe(200);
    const signed = await eventually(() => view(body.out_contract_code), (v) => v.state === 'SIGNED' && v.first_repayment?.state === 'PAY_SUCCESS');
    expect(signed.state).toBe('SIGNED');

    // A redelivery long after: acknowledged, nothing called, nothing changed.
    flow.clock.offsetMs = 30 * 60 * 1000;
    expect(await queueHandler(sqs(message))).toEqual({ batchItemFailures: [] });
    expect(presignCalls()).toBe(1);
    flow.clock.offsetMs = 0;
    expect((await view(body.out_contract_code)).state).toBe('SIGNED');
  });

  it('concurrent copies of one message: one WeChat call', async () => {
    const body = contractBody({ trade: false });
    const records = Array.from({ length: 6 }, () => sqsRecord(body));
    expect(await queueHandler(sqs(...records))).toEqual({ batchItemFailures: [] });
    expect(presignCalls()).toBe(1);
  });

  it('reports only transient failures; the redelivery then presigns', async () => {
    const body = contractBody({ trade: false });
    const message = sqsRecord(body);
    const good = sqsRecord(contractBody({ trade: false }));
    failPresign = true;
    const first = await queueHandler(sqs(message));
    expect(first).toEqual({ batchItemFailures: [{ itemIdentifier: message.messageId }] });
    failPresign = false;
    expect(await queueHandler(sqs(message, good))).toEqual({ batchItemFailures: [] });
    expect((await view(body.out_contract_code)).state).toBe('PRESIGNED');
  });

  it('records permanent refusals instead of retrying them: invalid bodies and WeChat 4xx', async () => {
    const invalid = contractBody({ over: { real_identity: { identity_type: 'REAL_IDENTITY_TYPE_ID_CARD', identity_id: '320583198706124575', real_name: '岳飞' } } });
    const refused = contractBody({ over: { plan_id: 'NOT_MY_PLAN' } });
    const unreadable = sqsRecord('{"out_contract_code": "has-dash", "real_identity": ');
    const invalidMessage = sqsRecord(invalid);
    const refusedMessage = sqsRecord(refused);
    const batch = sqs(invalidMessage, refusedMessage, unreadable);
    expect(await queueHandler(batch)).toEqual({ batchItemFailures: [] });
    expect(presignCalls()).toBe(1);

    expect(await view(invalid.out_contract_code)).toMatchObject({
      state: 'REJECTED',
      error: { code: 'INVALID_REQUEST', errors: [{ field: 'real_identity.identity_id', message: expect.any(String) }] },
    });
    expect(await view(refused.out_contract_code)).toMatchObject({ state: 'REJECTED', error: { code: 'PARAM_ERROR' } });
    expect(await stored(`PRESIGNMSG#${unreadable.messageId}`, 'REJECTED')).toMatchObject({
      state: 'REJECTED',
      refusal: { code: 'INVALID_REQUEST', errors: [{ field: 'body' }] },
    });

    // Redelivered: acknowledged again, still no second WeChat call, no second record.
    expect(await queueHandler(batch)).toEqual({ batchItemFailures: [] });
    expect(presignCalls()).toBe(1);
    expect(await stored(`PRESIGNMSG#${invalidMessage.messageId}`, 'REJECTED')).toBeUndefined();

    // Refused outright (by us, or definitively by WeChat): the corrected message takes the code and presigns.
    const corrected = sqsRecord({ ...refused, plan_id: 'PLAN_REPAY_001' });
    const correctedInvalid = sqsRecord({ ...invalid, real_identity: { ...invalid.real_identity, identity_id: PEOPLE[0].id, real_name: PEOPLE[0].name } });
    expect(await queueHandler(sqs(corrected, correctedInvalid))).toEqual({ batchItemFailures: [] });
    expect((await view(refused.out_contract_code)).state).toBe('PRESIGNED');
    expect((await view(invalid.out_contract_code)).state).toBe('PRESIGNED');

    // Now used: a different request for it is refused at message level, and the contract is untouched.
    const conflicting = sqsRecord({ ...refused, repayment_day: 9 });
    expect(await queueHandler(sqs(conflicting))).toEqual({ batchItemFailures: [] });
    expect(await stored(`PRESIGNMSG#${conflicting.messageId}`, 'REJECTED')).toMatchObject({ refusal: { code: 'CONTRACT_CODE_USED' } });
    expect((await view(refused.out_contract_code)).state).toBe('PRESIGNED');
  });

  it('the sample event in events/ is a valid presign message', async () => {
    const sample = JSON.parse(await readFile(new URL('../../../events/presign-repayment-contract.sqs.json', import.meta.url), 'utf8')) as SQSEvent;
    expect(sample.Records).toHaveLength(1);
    const record = sample.Records[0]!;
    const body: Record<string, any> = { ...(JSON.parse(record.body) as Record<string, any>), out_contract_code: uniq('RC') };
    delete body.trade_info;
    expect(await queueHandler(sqs({ ...record, body: JSON.stringify(body) }))).toEqual({ batchItemFailures: [] });
    expect((await view(body.out_contract_code)).state).toBe('PRESIGNED');
  });
});

describe('notifications: every field optional, forward only', () => {
  async function presigned(trade: boolean | { deduct_amount: string } = false) {
    const body = contractBody({ trade });
    const answer = parse(await create(body));
    return { body, answer };
  }

  it('a TERMINATE before its SIGN still ends TERMINATED, and the late SIGN fills in what it knows', async () => {
    const { body } = await presigned();
    const code = body.out_contract_code;
    const terminated = await notify('/notify/repayment-contract', 'CREDIT_REPAYMENT.TERMINATE_CONTRACT', {
      mchid: partner.mchid,
      plan_id: body.plan_id,
      out_contract_code: code,
      contract_state: 'CONTRACT_STATE_TERMINATED',
      contract_id: `CID${code}`,
      contract_terminated_time: '2026-11-23T10:00:00+08:00',
      contract_terminated_mode: 'TERMINATION_MODE_BY_USER',
    });
    expect(terminated.statusCode).toBe(204);
    const sign = await notify('/notify/repayment-contract', 'CREDIT_REPAYMENT.SIGN_CONTRACT', {
      mchid: partner.mchid,
      plan_id: body.plan_id,
      out_contract_code: code,
      contract_state: 'CONTRACT_STATE_EFFECTIVE',
      contract_id: `CID${code}`,
      openid: 'o-late-sign',
      contract_signed_time: '2026-11-23T09:59:00+08:00',
    });
    expect(sign.statusCode).toBe(204);
    expect(await view(code)).toMatchObject({
      state: 'TERMINATED',
      contract_id: `CID${code}`,
      openid: 'o-late-sign',
      contract_signed_time: '2026-11-23T09:59:00+08:00',
      contract_terminated_mode: 'TERMINATION_MODE_BY_USER',
    });
    expect(flow.calls.filter((c) => c.startsWith('GET '))).toEqual([]);
  });

  it('a payload without the state or id is confirmed with the query APIs; a bare contract_id finds its contract', async () => {
    const { body, answer } = await presigned(true);
    const code = body.out_contract_code;
    await sandbox.faults.set({ notifyDelayMs: 60_000 });
    const signed = await act({ url: answer.redirect_url, action: 'sign' });
    sandbox.notifications.cancelAll(); // only our hand-made notifications arrive
    flow.calls.length = 0;

    expect((await notify('/notify/repayment-contract', 'CREDIT_REPAYMENT.SIGN_CONTRACT', { out_contract_code: code })).statusCode).toBe(204);
    expect(flow.calls).toEqual([`GET /v3/credit-repayment/partner/contracts/${code}`]);
    const contract = await view(code);
    expect(contract).toMatchObject({ state: 'SIGNED', contract_id: signed.json.target.contract_id });
    expect(contract.openid).toEqual(expect.any(String));

    // A repayment notification with nothing but its out_trade_no: the deduct-order query supplies state and amount.
    flow.calls.length = 0;
    const paid = await notify('/notify/repayment', 'CREDIT_REPAYMENT.DEDUCTION_PAY', { out_trade_no: body.trade_info!.out_trade_no });
    expect(paid.statusCode).toBe(204);
    expect(flow.calls).toEqual([`GET /v3/credit-repayment/partner/deduct-orders/${body.trade_info!.out_trade_no}`]);
    expect((await view(code)).first_repayment).toMatchObject({
      state: 'PAY_SUCCESS',
      order_state: 'DEDUCT_ORDER_STATE_PAY_SUCCESS',
      pay_success_amount: '5000',
      transaction_id: expect.any(String),
    });

    // Only contract_id: found through what the signing taught us; still EFFECTIVE at WeChat, but the event says terminated.
    const onlyId = await notify('/notify/repayment-contract', 'CREDIT_REPAYMENT.TERMINATE_CONTRACT', { contract_id: contract.contract_id });
    expect(onlyId.statusCode).toBe(204);
    expect((await view(code)).state).toBe('TERMINATED');

    // Nothing to go by: kept and flagged, acknowledged.
    const nothing = await notify('/notify/repayment-contract', 'CREDIT_REPAYMENT.SIGN_CONTRACT', { summary: 'x' });
    expect(nothing.statusCode).toBe(204);
  });

  it('with the query API hanging, a key-only notification is acknowledged inside 5 s and the next GET completes it', async () => {
    const { body, answer } = await presigned(true);
    const code = body.out_contract_code;
    await sandbox.faults.set({ notifyDelayMs: 60_000 });
    expect((await act({ url: answer.redirect_url, action: 'sign' })).status).toBe(200);
    sandbox.notifications.cancelAll();
    flow.use(flow.runtimeWith({ WECHATPAY_TIMEOUT_MS: '5000' }));
    try {
      await sandbox.faults.set({ timeout: 20, timeoutHangMs: 20_000, match: '/v3/credit-repayment/partner/' });
      for (const [path, type, resource] of [
        ['/notify/repayment-contract', 'CREDIT_REPAYMENT.SIGN_CONTRACT', { out_contract_code: code }],
        ['/notify/repayment', 'CREDIT_REPAYMENT.DEDUCTION_PAY', { out_trade_no: body.trade_info!.out_trade_no }],
      ] as const) {
        const started = Date.now();
        const res = await notify(path, type, resource);
        expect(Date.now() - started).toBeLessThan(5_000);
        expect(res.statusCode).toBe(204);
      }
      // Nothing applied unconfirmed; what WeChat said is noted for the next look.
      expect(await stored(`CONTRACT#${code}`, 'CONTRACT')).toMatchObject({ state: 'PRESIGNED', notified_unconfirmed_at: expect.any(Number) });
      expect(await stored(`REPAY#${body.trade_info!.out_trade_no}`, 'REPAYMENT')).toMatchObject({ state: 'PENDING' });

      await sandbox.faults.set({ timeout: 0, match: '' });
      const contract = await eventually(() => view(code), (v) => v.state === 'SIGNED' && v.first_repayment?.state === 'PAY_SUCCESS');
      expect(contract.contract_id).toEqual(expect.any(String));
    } finally {
      flow.use(rt);
    }
  });

  it('the repayment is matched by out_trade_no and bound by amount; a wrong amount is flagged, not applied', async () => {
    const { body } = await presigned({ deduct_amount: '3000' });
    const outTradeNo = body.trade_info!.out_trade_no;
    const wrong = await notify('/notify/repayment', 'CREDIT_REPAYMENT.DEDUCTION_PAY', {
      mchid: partner.mchid,
      out_trade_no: outTradeNo,
      order_state: 'DEDUCT_ORDER_STATE_PAY_SUCCESS',
      deduct_amount: '30000',
      pay_success_amount: '30000',
      transaction_id: 'TX-WRONG',
    });
    expect(wrong.statusCode).toBe(204);
    expect((await view(body.out_contract_code)).first_repayment).toMatchObject({ state: 'PENDING' });
    const scan = await dynamo.send(new ScanCommand({ TableName: localStack().tableName }));
    const flagged = (scan.Items ?? []).map((i) => unmarshall(i)).filter((i) => i['pk'] === `UNMATCHED#REPAYMENT#${outTradeNo}`);
    expect(flagged).toHaveLength(1);
    expect(flagged[0]).toMatchObject({ flagged: true, reason: 'differs in deduct_amount' });

    const right = await notify('/notify/repayment', 'CREDIT_REPAYMENT.DEDUCTION_PAY', {
      mchid: partner.mchid,
      out_trade_no: outTradeNo,
      order_state: 'DEDUCT_ORDER_STATE_PAY_SUCCESS',
      deduct_amount: 3000,
      pay_success_amount: 3000,
      transaction_id: 'TX-RIGHT',
      contract_id: `CID${body.out_contract_code}`,
    });
    expect(right.statusCode).toBe(204);
    const contract = await view(body.out_contract_code);
    expect(contract.first_repayment).toMatchObject({ state: 'PAY_SUCCESS', transaction_id: 'TX-RIGHT', pay_success_amount: '3000' });
    // A paid first repayment proves the signing, even before (or without) SIGN_CONTRACT.
    expect(contract).toMatchObject({ state: 'SIGNED', contract_id: `CID${body.out_contract_code}` });
  });

  const unmatchedFor = async (pk: string) => {
    const scan = await dynamo.send(new ScanCommand({ TableName: localStack().tableName }));
    return (scan.Items ?? []).map((i) => unmarshall(i)).filter((i) => i['pk'] === pk);
  };

  it.each([
    ['another merchant', { mchid: '1999999999' }, 'mchid'],
    ['another plan', { plan_id: 99_999 }, 'plan_id'],
    ['another app', { appid: 'wx0000000000000000' }, 'appid'],
  ])('a contract event for %s is flagged, not applied; the genuine one then applies', async (_, change, field) => {
    const { body } = await presigned();
    const code = body.out_contract_code;
    const signed = (over: Record<string, unknown>) =>
      notify('/notify/repayment-contract', 'CREDIT_REPAYMENT.SIGN_CONTRACT', {
        mchid: partner.mchid,
        appid: partner.appid,
        plan_id: body.plan_id,
        out_contract_code: code,
        contract_state: 'CONTRACT_STATE_EFFECTIVE',
        contract_id: `CID${code}`,
        ...over,
      });
    expect((await signed(change)).statusCode).toBe(204);
    expect((await view(code)).state).toBe('PRESIGNED');
    const flagged = await unmatchedFor(`UNMATCHED#REPAYMENT_CONTRACT#${code}`);
    expect(flagged).toHaveLength(1);
    expect(flagged[0]!['reason']).toContain(field);
    expect((await signed({})).statusCode).toBe(204);
    expect((await view(code)).state).toBe('SIGNED');
  });

  it('a repayment for another merchant is flagged, not applied; one without mchid the query cannot confirm is flagged too', async () => {
    const { body } = await presigned({ deduct_amount: '3000' });
    const outTradeNo = body.trade_info!.out_trade_no;
    const paid = (over: Record<string, unknown>) =>
      notify('/notify/repayment', 'CREDIT_REPAYMENT.DEDUCTION_PAY', {
        mchid: partner.mchid,
        out_trade_no: outTradeNo,
        order_state: 'DEDUCT_ORDER_STATE_PAY_SUCCESS',
        deduct_amount: 3000,
        pay_success_amount: 3000,
        transaction_id: 'TX-1',
        ...over,
      });
    expect((await paid({ mchid: '1999999999' })).statusCode).toBe(204);
    expect((await view(body.out_contract_code)).first_repayment).toMatchObject({ state: 'PENDING' });
    expect((await unmatchedFor(`UNMATCHED#REPAYMENT#${outTradeNo}`))[0]).toMatchObject({ reason: 'differs in mchid' });

    // No mchid, and WeChat's deduct-order query does not know the order (404): nothing binds it, nothing is applied.
    await sandbox.faults.set({ match: '' });
    const bare = await notify('/notify/repayment', 'CREDIT_REPAYMENT.DEDUCTION_PAY', {
      out_trade_no: outTradeNo,
      order_state: 'DEDUCT_ORDER_STATE_PAY_SUCCESS',
      deduct_amount: 3000,
      pay_success_amount: 3000,
      transaction_id: 'TX-2',
    });
    expect(bare.statusCode).toBe(204);
    expect((await view(body.out_contract_code)).first_repayment).toMatchObject({ state: 'PENDING' });

    expect((await paid({})).statusCode).toBe(204);
    expect((await view(body.out_contract_code)).first_repayment).toMatchObject({ state: 'PAY_SUCCESS', transaction_id: 'TX-1' });
  });

  it.each(['full', 'minimal'] as const)('duplicated and out-of-order deliveries from the sandbox change the contract once (%s payloads)', async (payload) => {
    await sandbox.faults.set({ notifyCopies: 3, notifyOrder: 'reversed', notifyPayload: payload });
    const { body, answer } = await presigned(true);
    const trade = body.trade_info!;
    const seqBefore = lastSeq();
    expect((await act({ url: answer.redirect_url, action: 'sign' })).status).toBe(200);
    const contract = await eventually(() => view(body.out_contract_code), (v) => v.state === 'SIGNED' && v.first_repayment?.state === 'PAY_SUCCESS');
    expect(contract.state).toBe('SIGNED');
    expect(contract.contract_id).toEqual(expect.any(String));
    await eventually(async () => sandbox.notifications.pending(), (n) => n === 0, 5_000);
    const deliveries = sandbox.notifications.list().filter((a) => a.seq > seqBefore);
    const sent = new Set(deliveries.map((a) => a.id));
    expect(sent.size).toBe(2);
    expect(deliveries.map((a) => a.event).slice(0, 3)).toEqual(Array(3).fill('CREDIT_REPAYMENT.DEDUCTION_PAY'));
    expect(deliveries.every((a) => a.ok && a.status === 204)).toBe(true);
    expect(deliveries).toHaveLength(6);
    // Three concurrent copies of each: the repayment was applied once, the contract moved once.
    const repayment = await stored(`REPAY#${trade.out_trade_no}`, 'REPAYMENT');
    expect([...(repayment?.['event_ids'] as Set<string>)]).toHaveLength(1);
    const record = await stored(`CONTRACT#${body.out_contract_code}`, 'CONTRACT');
    expect([...(record?.['event_ids'] as Set<string>)].every((id) => sent.has(id))).toBe(true);
  });
});

describe('privacy', () => {
  it('no plain-text name or ID number in any log line or any table item after all of the above', async () => {
    // Wait for the sandbox's last deliveries so their handling is logged too.
    await eventually(async () => sandbox.notifications.pending(), (n) => n === 0, 5_000);
    expect(output.length).toBeGreaterThan(20);
    const scan = await dynamo.send(new ScanCommand({ TableName: localStack().tableName }));
    const items = (scan.Items ?? []).map((i) => JSON.stringify(unmarshall(i), (_k, v: unknown) => (v instanceof Set ? [...v] : v)));
    expect(items.filter((i) => i.includes('REPAYMENT_CONTRACT')).length).toBeGreaterThan(10);
    const haystacks = [...output, ...items];
    for (const person of [...PEOPLE, { ...SAMPLE_PERSON, mask: '***明' }]) {
      for (const secret of [person.name, person.id, person.id.toUpperCase(), person.id.toLowerCase(), person.id.slice(0, 17)]) {
        const hits = haystacks.filter((h) => h.includes(secret));
        expect(hits, `found ${secret === person.name ? 'a name' : 'an ID number'}`).toEqual([]);
      }
    }
    // The masks may be stored (they are what WeChat shows), and they are.
    expect(items.some((i) => i.includes(PEOPLE[0].mask))).toBe(true);
  });
});
