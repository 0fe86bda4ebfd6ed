/**
 * The final scan: after full flows of every product (create → the person pays / signs on the sandbox's page →
 * WeChat's real notifications → GET; terminations; the presign queue; refusals, forgeries and a WeChat outage on
 * the way), everything our code wrote is searched for secrets:
 *
 * - every line written to console.* and to process.stdout / process.stderr while the flows ran (Powertools writes to
 *   the streams directly, so both are captured; a canary logged through our logger proves the capture sees it);
 * - every item of the flows' table;
 * - (identities only) every GET answer.
 *
 * Looked for: each line of both merchant private keys (PEM bodies, so a re-wrapped or JSON-escaped key is found too),
 * the APIv3 / APIv2 keys (and fingerprint keys if configured), each line of the JWT private key, the plain-text names
 * and ID numbers the repayment flows sent (upper/lower-case X, and the 17-digit stem), and every Authorization value
 * our runtime sent to WeChat (whole, and its signature alone). None may appear.
 */
import { randomBytes } from 'node:crypto';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as getContractOrder } from '../../functions/http/get-contract-order';
import { handler as getH5Order } from '../../functions/http/get-h5-order';
import { handler as getRepaymentContract } from '../../functions/http/get-repayment-contract';
import { handler as presignQueue } from '../../functions/queue/presign-repayment-contract';
import { logger } from '../../shared/runtime/logger';
import {
  CREATE_ROUTES,
  PEOPLE,
  act,
  authorizationNeedles,
  captureOutput,
  contractOrderBody,
  eventually,
  findLeaks,
  h5Body,
  httpEvent,
  parse,
  presignBody,
  secretNeedles,
  startHarness,
  tableItems,
  type CapturedOutput,
  type Handler,
  type Harness,
  type Json,
} from './support';
import { buildNotification, strangerKey } from '../support/notifications';

let h: Harness;
let output: CapturedOutput;
const answers: string[] = [];
/** A well-formed but invalid ID number (wrong check character): refused, and must not be stored or logged either. */
const INVALID_ID = `${PEOPLE[0].id.slice(0, 17)}${PEOPLE[0].id.endsWith('1') ? '2' : '1'}`;
const CANARY = `ADV-CANARY-${randomBytes(6).toString('hex')}`;

beforeAll(async () => {
  output = captureOutput();
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
  output?.restore();
});

const create = async (index: number, body: Json) => {
  const res = await CREATE_ROUTES[index]!.handler(httpEvent(JSON.stringify(body)));
  answers.push(res.body ?? '');
  return res;
};
const get = async (handler: unknown, name: string, value: string) => {
  const res = await (handler as Handler)(httpEvent('', {}, false, { pathParameters: { [name]: value } }));
  answers.push(res.body ?? '');
  return parse(res);
};

describe('full flows, then the scan', () => {
  it('H5: create, pay on the page, notification, GET; a forgery and a WeChat outage on the way', async () => {
    const body = h5Body();
    const created = parse(await create(0, body));
    const forged = buildNotification({ ...h.direct.keys, privateKeyPem: strangerKey() }, { eventType: 'TRANSACTION.SUCCESS', resource: { out_trade_no: body.out_trade_no } });
    expect((await (await import('../../functions/notify/h5-payment')).handler(httpEvent(forged.body, forged.headers) as never)).statusCode).toBe(401);
    expect((await act(h, { url: created.h5_url, action: 'pay' })).status).toBe(200);
    expect((await eventually(() => get(getH5Order, 'out_trade_no', body.out_trade_no), (o) => o.state === 'SUCCESS')).state).toBe('SUCCESS');

    await h.sandbox.faults.set({ systemError: 3, match: '/v3/pay/transactions/h5' });
    const other = h5Body();
    expect((await create(0, other)).statusCode).toBe(503);
    await h.sandbox.faults.set({ systemError: 0, match: '' });
    expect((await create(0, other)).statusCode).toBe(201);
  });

  it('contract order: create (JSAPI), pay and sign, both notifications, terminate, GET', async () => {
    const body = contractOrderBody(h, { trade_type: 'JSAPI', openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' });
    expect((await create(1, body)).statusCode).toBe(201);
    expect((await act(h, { out_trade_no: body.out_trade_no, action: 'pay' })).status).toBe(200);
    await eventually(() => get(getContractOrder, 'out_trade_no', body.out_trade_no), (o) => o.contract?.state === 'SIGNED' && o.payment?.state === 'SUCCESS');
    expect((await act(h, { contract_code: body.contract_code, action: 'terminate' })).status).toBe(200);
    const ended = await eventually(() => get(getContractOrder, 'out_trade_no', body.out_trade_no), (o) => o.contract?.state === 'TERMINATED');
    expect(ended.contract.state).toBe('TERMINATED');
  });

  it('repayment contracts: presign over HTTP and from the queue, sign, first repayment, terminate; refusals', async () => {
    for (const person of PEOPLE) {
      const body = presignBody(h, { person, trade: true });
      const answer = parse(await create(2, body));
      expect(answer.redirect_url).toEqual(expect.any(String));
      expect((await act(h, { url: answer.redirect_url, action: 'sign' })).status).toBe(200);
      const signed = await eventually(
        () => get(getRepaymentContract, 'out_contract_code', body.out_contract_code),
        (c) => c.state === 'SIGNED' && c.first_repayment?.state === 'PAY_SUCCESS',
      );
      expect(signed.display_name).toBe(person.mask);
      expect((await act(h, { out_contract_code: body.out_contract_code, action: 'terminate' })).status).toBe(200);
      await eventually(() => get(getRepaymentContract, 'out_contract_code', body.out_contract_code), (c) => c.state === 'TERMINATED');
    }

    // The queue: one good message, one with an invalid ID number (recorded as refused), one WeChat refusal.
    const queued = presignBody(h, { person: PEOPLE[1], trade: false });
    const invalid = presignBody(h, { trade: false, over: { real_identity: { identity_type: 'REAL_IDENTITY_TYPE_ID_CARD', identity_id: INVALID_ID, real_name: PEOPLE[0].name } } });
    const refusedByWechat = presignBody(h, { person: PEOPLE[0], trade: false, over: { plan_id: 'NOT_MY_PLAN' } });
    const record = (body: Json, i: number) => ({
      messageId: `adv-${i}-${randomBytes(4).toString('hex')}`,
      receiptHandle: 'rh',
      body: JSON.stringify(body),
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.now()), SenderId: 'A', ApproximateFirstReceiveTimestamp: String(Date.now()) },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:presign-repayment-contract',
      awsRegion: 'us-east-1',
    });
    const batch = { Records: [queued, invalid, refusedByWechat].map(record) } as SQSEvent;
    expect(await presignQueue(batch)).toEqual({ batchItemFailures: [] });
    expect((await get(getRepaymentContract, 'out_contract_code', queued.out_contract_code)).state).toBe('PRESIGNED');
    expect((await get(getRepaymentContract, 'out_contract_code', invalid.out_contract_code)).state).toBe('REJECTED');

    // Over HTTP: a mask that does not fit the name, and WeChat down for the presign.
    const wrongMask = presignBody(h, { person: PEOPLE[0], over: { display_name: '*错' } });
    expect((await create(2, wrongMask)).statusCode).toBe(400);
    await h.sandbox.faults.set({ systemError: 3, match: '/h5-presign' });
    expect((await create(2, presignBody(h, { person: PEOPLE[1] }))).statusCode).toBe(503);
    await h.sandbox.faults.set({ systemError: 0, match: '' });
  });

  it('the scan: no key, API key, JWT key, identity or Authorization value in any log line or table item', async () => {
    await eventually(async () => h.sandbox.notifications.pending(), (n) => n === 0, 10_000);
    logger.info('adversarial canary', { canary: CANARY });
    const items = (await tableItems(h)).map((i) => JSON.stringify(i));
    const haystacks = [...output.lines, ...items];

    // The scan is not vacuous: it sees the logger, a real amount of logging and every product's records.
    expect(output.lines.some((l) => l.includes(CANARY)), 'the capture does not see the logger').toBe(true);
    expect(output.lines.length).toBeGreaterThan(30);
    for (const kind of ['H5_ORDER', 'CONTRACT_ORDER', 'CONTRACT_CODE', 'REPAYMENT_CONTRACT', 'REPAYMENT']) {
      expect(items.some((i) => i.includes(`"kind":"${kind}"`)), kind).toBe(true);
    }
    expect(h.calls.filter((c) => c.authorization).length).toBeGreaterThan(5);
    // The masks are stored (they are what WeChat shows): the identities went through these flows.
    expect(items.some((i) => i.includes(PEOPLE[1].mask))).toBe(true);

    const needles = [...secretNeedles(h.stack, [['invalid ID number', INVALID_ID]]), ...authorizationNeedles(h.calls)];
    // The needles find a secret however it is written: JSON-escaped PEM, PEM re-wrapped as one base64 line, inside text.
    const secret = h.stack.secrets[h.stack.secretIds.direct]!;
    const body = secret.merchantPrivateKey.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
    for (const leak of [JSON.stringify({ key: secret.merchantPrivateKey }), body, `k=${secret.apiV3Key};`, JSON.stringify({ n: PEOPLE[0].name }), h.calls.find((c) => c.authorization)!.authorization!]) {
      expect(findLeaks([leak], needles), leak.slice(0, 40)).not.toEqual([]);
    }
    expect(findLeaks(haystacks, needles)).toEqual([]);
    // What callers read back never carries the plain identity either.
    const identities = needles.filter(([label]) => label.startsWith('real name') || label.includes('ID number'));
    expect(findLeaks(answers, identities)).toEqual([]);
  });
});
