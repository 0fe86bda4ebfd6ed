import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { contractOrderPaymentApplier } from '../../../shared/contract-order';
import { papayContractApplier } from '../../../shared/papay';
import type { HttpEvent } from '../../../shared/http/request';
import type { MerchantContext } from '../../../shared/merchant/context';
import type { MerchantDirectory } from '../../../shared/merchant/directory';
import {
  receiveV2Notification,
  UnusableNotificationError,
  V2_SUCCESS_BODY,
  v2NotifyHandler,
  type V2NotificationApplier,
} from '../../../shared/notify/v2';
import { useRuntime, type Runtime } from '../../../shared/runtime/container';
import type { ClaimStore } from '../../../shared/store/claims';
import { buildXml, parseXml, signV2, type V2SignType } from '../../../shared/wechatpay';

const KEY = 'a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb';
const ROTATED_KEY = 'Zb8ruzIWazQj3sTfV7e2Gk1BJZ1edc7a';
const MCHID = '1900000001';
const APPID = 'wx8888888888888888';
const TABLE = 'unit-table';

function merchant(apiV2Key: string | null = KEY): MerchantContext {
  return { mchid: MCHID, appid: APPID, ...(apiV2Key ? { apiV2Key } : {}) } as unknown as MerchantContext;
}

const dynamo = new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
const ddb = mockClient(dynamo);

function fakeRuntime(options: { current?: MerchantContext; refreshed?: MerchantContext } = {}) {
  const current = options.current ?? merchant();
  const merchants = {
    get: vi.fn(async () => current),
    refresh: vi.fn(async () => options.refreshed ?? current),
  };
  const rt: Runtime = {
    config: { tableName: TABLE, publicBaseUrl: 'https://pay.example.com' } as Runtime['config'],
    dynamo,
    claims: {} as ClaimStore,
    merchants: merchants as unknown as MerchantDirectory,
    now: () => 1_750_000_000_000,
    wallClock: () => 1_750_000_000_000,
  };
  return { rt, merchants };
}

function payment(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    return_code: 'SUCCESS',
    return_msg: 'OK',
    appid: APPID,
    mch_id: MCHID,
    nonce_str: 'Z8m3aWKbYb6J8d2Q',
    result_code: 'SUCCESS',
    openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
    is_subscribe: 'N',
    trade_type: 'JSAPI',
    bank_type: 'CMC',
    total_fee: '888',
    fee_type: 'CNY',
    cash_fee: '888',
    transaction_id: '4200000000202601010000000001',
    out_trade_no: 'PAP0001',
    time_end: '20260101101010',
    coupon_count: '1',
    coupon_id_0: '10000',
    coupon_fee_0: '0',
    ...overrides,
  };
}

function contract(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    return_code: 'SUCCESS',
    result_code: 'SUCCESS',
    mch_id: MCHID,
    contract_code: '100001256',
    openid: 'onqOjjmM1tad-3ROpncN-yUfa6ua',
    plan_id: '12535',
    change_type: 'ADD',
    operate_time: '2015-07-01 10:00:00',
    contract_id: 'Wx15463511252015071056489715',
    contract_expired_time: '2019-07-01 10:00:00',
    request_serial: '1695',
    ...overrides,
  };
}

function signed(fields: Record<string, string>, signType: V2SignType = 'MD5', key = KEY): Record<string, string> {
  const out = signType === 'HMAC-SHA256' ? { ...fields, sign_type: 'HMAC-SHA256' } : { ...fields };
  return { ...out, sign: signV2(out, key, signType) };
}

function event(body: string, base64 = false): HttpEvent {
  return {
    body: base64 ? Buffer.from(body, 'utf8').toString('base64') : body,
    isBase64Encoded: base64,
    headers: { 'content-type': 'text/xml' },
  };
}

const xml = (fields: Record<string, string>) => buildXml(fields);

function okApplier() {
  return vi.fn<V2NotificationApplier>(async () => 'applied');
}

async function run(body: string | HttpEvent, apply: V2NotificationApplier = okApplier(), rt = fakeRuntime().rt) {
  const e = typeof body === 'string' ? event(body) : body;
  return receiveV2Notification(rt, e, { name: 'unit', role: 'direct', apply });
}

function answer(result: Awaited<ReturnType<typeof run>>) {
  expect(result.headers?.['content-type']).toMatch(/^text\/xml/);
  return parseXml(String(result.body));
}

beforeEach(() => {
  ddb.reset();
  ddb.onAnyCommand().rejects(new Error('unexpected DynamoDB call'));
});

describe('v2 notification pipeline: accepted', () => {
  it('an MD5-signed notification reaches the applier and gets the exact SUCCESS answer', async () => {
    const apply = okApplier();
    const fields = signed(payment());
    const result = await run(xml(fields), apply);
    expect(result.statusCode).toBe(200);
    expect(result.headers).toEqual({ 'content-type': 'text/xml; charset=utf-8' });
    expect(result.body).toBe(
      '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>',
    );
    expect(result.body).toBe(V2_SUCCESS_BODY);
    expect(apply).toHaveBeenCalledOnce();
    expect(apply.mock.calls[0]?.[0]).toEqual(fields);
  });

  it('HMAC-SHA256 by sign_type, and by a 64-character sign without sign_type', async () => {
    expect((await run(xml(signed(payment(), 'HMAC-SHA256')))).statusCode).toBe(200);
    const noType = { ...payment() };
    const hmacSign = signV2(noType, KEY, 'HMAC-SHA256');
    expect((await run(xml({ ...noType, sign: hmacSign }))).statusCode).toBe(200);
  });

  it('a base64-flagged body (API Gateway binary) is decoded first', async () => {
    const result = await run(event(xml(signed(payment({ attach: '深圳分店' }))), true));
    expect(result.statusCode).toBe(200);
  });

  it('plain (non-CDATA) text, whitespace between elements and unknown fields are fine', async () => {
    const fields = signed(payment({ settlement_total_fee: '888', future_field: 'x' }));
    const body = `<xml>\n${Object.entries(fields).map(([k, v]) => `  <${k}>${v}</${k}>`).join('\n')}\n</xml>`;
    expect((await run(body)).statusCode).toBe(200);
  });

  it('a sign made with a rotated key verifies after one reload of the secret', async () => {
    const { rt, merchants } = fakeRuntime({ refreshed: merchant(ROTATED_KEY) });
    const result = await run(xml(signed(payment(), 'MD5', ROTATED_KEY)), okApplier(), rt);
    expect(result.statusCode).toBe(200);
    expect(merchants.refresh).toHaveBeenCalledOnce();
  });
});

describe('v2 notification pipeline: refused, nothing applied', () => {
  async function refused(body: string | HttpEvent, status: number, rt = fakeRuntime().rt) {
    const apply = okApplier();
    const result = await run(body, apply, rt);
    expect(result.statusCode).toBe(status);
    expect(answer(result).return_code).toBe('FAIL');
    expect(apply).not.toHaveBeenCalled();
    return result;
  }

  it('a tampered field (the amount) → 401', async () => {
    const fields = signed(payment());
    await refused(xml({ ...fields, total_fee: '1' }), 401);
  });

  it('a tampered sign → 401; a lower-case copy of the right sign is still accepted', async () => {
    const fields = signed(payment());
    const sign = fields['sign']!;
    await refused(xml({ ...fields, sign: `${sign.slice(0, -1)}${sign.endsWith('A') ? 'B' : 'A'}` }), 401);
    expect((await run(xml({ ...fields, sign: sign.toLowerCase() }))).statusCode).toBe(200);
  });

  it('signed with another key → 401, after exactly one (rate-limited) secret reload', async () => {
    const { rt, merchants } = fakeRuntime();
    await refused(xml(signed(payment(), 'MD5', ROTATED_KEY)), 401, rt);
    expect(merchants.refresh).toHaveBeenCalledOnce();
  });

  it('sign_type that does not fit the sign → 401 (HMAC declared, MD5 sign; MD5 declared, HMAC sign)', async () => {
    const md5 = payment({ sign_type: 'HMAC-SHA256' });
    await refused(xml({ ...md5, sign: signV2(md5, KEY, 'MD5') }), 401);
    const hmac = payment({ sign_type: 'MD5' });
    await refused(xml({ ...hmac, sign: signV2(hmac, KEY, 'HMAC-SHA256') }), 401);
  });

  it('an unknown sign_type → 401', async () => {
    const fields = payment({ sign_type: 'SHA1' });
    await refused(xml({ ...fields, sign: signV2(fields, KEY, 'MD5') }), 401);
  });

  it('no sign at all → 401', async () => {
    await refused(xml(payment()), 401);
  });

  it('a sign of the wrong length → 401', async () => {
    await refused(xml({ ...payment(), sign: 'ABC123' }), 401);
  });

  it('return_code FAIL (unsigned by design) → 400', async () => {
    await refused(xml({ return_code: 'FAIL', return_msg: '签名失败' }), 400);
  });

  it('not XML, not <xml>, nested elements, repeated fields → 400', async () => {
    await refused('{"return_code":"SUCCESS"}', 400);
    await refused('<root><return_code>SUCCESS</return_code></root>', 400);
    await refused('<xml><return_code>SUCCESS</return_code><a><b>1</b></a></xml>', 400);
    await refused('<xml><return_code>SUCCESS</return_code><return_code>SUCCESS</return_code></xml>', 400);
    await refused('', 400);
  });

  describe('XXE: DTDs and entities are refused before parsing, nothing is read from disk', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xxe-'));
    const secretFile = join(dir, 'secret.txt');
    const MARKER = 'XXE-MARKER-7d1f0c';
    writeFileSync(secretFile, MARKER);
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    const fields = signed(payment());
    const inner = Object.entries(fields)
      .map(([k, v]) => `<${k}>${v}</${k}>`)
      .join('');

    it.each([
      ['external entity (file)', `<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file://${secretFile}">]><xml>${inner}<attach>&xxe;</attach></xml>`],
      ['external DTD', `<?xml version="1.0"?><!DOCTYPE xml SYSTEM "file://${secretFile}"><xml>${inner}</xml>`],
      ['parameter entity', `<!DOCTYPE xml [<!ENTITY % p SYSTEM "file://${secretFile}"> %p;]><xml>${inner}</xml>`],
      [
        'billion laughs',
        `<!DOCTYPE xml [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><xml>${inner}<attach>&c;</attach></xml>`,
      ],
      ['lower-case doctype', `<!doctype xml [<!entity x SYSTEM "file://${secretFile}">]><xml>${inner}</xml>`],
      ['undeclared entity reference', `<xml>${inner}<attach>&xxe;</attach></xml>`],
    ])('%s → 400', async (_name, body) => {
      const result = await refused(body, 400);
      expect(String(result.body)).not.toContain(MARKER);
    });

    it('the same text inside CDATA is only text (and is signed as such)', async () => {
      const withText = signed(payment({ attach: `<!DOCTYPE x [<!ENTITY y SYSTEM "file://${secretFile}">]>` }));
      const apply = okApplier();
      const result = await run(xml(withText), apply);
      expect(result.statusCode).toBe(200);
      expect(apply.mock.calls[0]?.[0]['attach']).not.toContain(MARKER);
    });
  });

  it('a 1 MB body → 413 without being parsed, plain or base64', async () => {
    const big = `<xml><return_code>SUCCESS</return_code><attach>${'a'.repeat(1024 * 1024)}</attach></xml>`;
    const started = performance.now();
    await refused(big, 413);
    await refused(event(big, true), 413);
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('just over the limit is refused, just under is read', async () => {
    const rt = fakeRuntime().rt;
    const fields = signed(payment());
    const body = xml(fields);
    const exact = await receiveV2Notification(rt, event(body), { name: 'unit', role: 'direct', apply: okApplier(), maxBytes: Buffer.byteLength(body) });
    expect(exact.statusCode).toBe(200);
    const over = await receiveV2Notification(rt, event(body), { name: 'unit', role: 'direct', apply: okApplier(), maxBytes: Buffer.byteLength(body) - 1 });
    expect(over.statusCode).toBe(413);
  });

  it('invalid UTF-8 → 400', async () => {
    const bytes = Buffer.concat([Buffer.from('<xml><return_code>SUCCESS</return_code><a>'), Buffer.from([0xff, 0xfe]), Buffer.from('</a></xml>')]);
    await refused({ body: bytes.toString('base64'), isBase64Encoded: true, headers: {} }, 400);
  });
});

describe('v2 notification pipeline: what the applier says', () => {
  it('UnusableNotificationError → 400 FAIL (WeChat keeps it)', async () => {
    const result = await run(xml(signed(payment())), async () => {
      throw new UnusableNotificationError('not for this URL');
    });
    expect(result.statusCode).toBe(400);
    expect(answer(result)).toEqual({ return_code: 'FAIL', return_msg: 'not for this URL' });
  });

  it('a storage failure → 500 FAIL, so WeChat sends it again', async () => {
    const result = await run(xml(signed(payment())), async () => {
      throw new Error('ProvisionedThroughputExceeded');
    });
    expect(result.statusCode).toBe(500);
    expect(answer(result).return_code).toBe('FAIL');
  });

  it('a merchant without an APIv2 key → 500 (misconfigured, retried later)', async () => {
    const { rt } = fakeRuntime({ current: merchant(null) });
    const result = await run(xml(signed(payment())), okApplier(), rt);
    expect(result.statusCode).toBe(500);
  });

  it('v2NotifyHandler never lets an exception escape', async () => {
    const { rt } = fakeRuntime();
    (rt.merchants.get as ReturnType<typeof vi.fn>).mockRejectedValueOnce(new Error('secrets down'));
    useRuntime(rt);
    try {
      const handler = v2NotifyHandler('unit', () => ({ role: 'direct', apply: okApplier() }));
      const result = await handler(event(xml(signed(payment()))));
      expect(result.statusCode).toBe(500);
      expect(parseXml(String(result.body)).return_code).toBe('FAIL');
      const thrower = v2NotifyHandler('unit', () => {
        throw new Error('boom');
      });
      expect((await thrower(event('<xml/>'))).statusCode).toBe(500);
    } finally {
      useRuntime(undefined);
    }
  });
});

describe('contract-order appliers behind the pipeline (DynamoDB mocked)', () => {
  afterEach(() => ddb.reset());

  function orderRecord(overrides: Record<string, unknown> = {}) {
    return {
      pk: 'PAPORDER#PAP0001',
      sk: 'ORDER',
      kind: 'CONTRACT_ORDER',
      out_trade_no: 'PAP0001',
      mchid: MCHID,
      appid: APPID,
      total_fee: 888,
      state: 'NOTPAY',
      ...overrides,
    };
  }

  it('payment: one conditional update bound to mch_id, appid and total_fee; event id = transaction_id', async () => {
    ddb.reset();
    ddb.on(UpdateItemCommand).resolves({ Attributes: marshall(orderRecord({ state: 'SUCCESS' })) });
    const { rt } = fakeRuntime();
    const result = await run(xml(signed(payment())), contractOrderPaymentApplier(rt), rt);
    expect(result.body).toBe(V2_SUCCESS_BODY);
    const update = ddb.commandCalls(UpdateItemCommand)[0]!.args[0].input;
    expect(update.Key).toEqual(marshall({ pk: 'PAPORDER#PAP0001', sk: 'ORDER' }));
    const values = unmarshall(update.ExpressionAttributeValues!);
    const names = update.ExpressionAttributeNames!;
    const expected = Object.fromEntries(
      Object.entries(names)
        .filter(([placeholder]) => placeholder.startsWith('#x'))
        .map(([placeholder, name]) => [name, values[`:${placeholder.slice(1)}`]]),
    );
    expect(expected).toEqual({ kind: 'CONTRACT_ORDER', mchid: MCHID, appid: APPID, total_fee: 888 });
    expect(values[':event']).toBe('4200000000202601010000000001');
    // The payer's openid is not stored.
    expect(Object.values(values)).not.toContain('oUpF8uMuAJO_M2pxb1Q9zNjWeS6o');
  });

  it('payment with a wrong mch_id (signed with our key) → stored flagged as unmatched, answered SUCCESS, order untouched', async () => {
    ddb.reset();
    ddb.on(UpdateItemCommand).rejects(
      new ConditionalCheckFailedException({ message: 'failed', $metadata: {}, Item: marshall(orderRecord()) }),
    );
    ddb.on(PutItemCommand).resolves({});
    const { rt } = fakeRuntime();
    const result = await run(xml(signed(payment({ mch_id: '1900009999' }))), contractOrderPaymentApplier(rt), rt);
    expect(result.body).toBe(V2_SUCCESS_BODY);
    const put = unmarshall(ddb.commandCalls(PutItemCommand)[0]!.args[0].input.Item!);
    expect(put).toMatchObject({
      pk: 'UNMATCHED#CONTRACT_ORDER_PAYMENT#PAP0001',
      sk: 'NOTIFY#4200000000202601010000000001',
      flagged: true,
      reason: 'differs in mchid',
      mch_id: '1900009999',
    });
  });

  it('payment for an unknown order → stored flagged, answered SUCCESS', async () => {
    ddb.reset();
    ddb.on(UpdateItemCommand).rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
    ddb.on(PutItemCommand).resolves({});
    const { rt } = fakeRuntime();
    const result = await run(xml(signed(payment())), contractOrderPaymentApplier(rt), rt);
    expect(result.body).toBe(V2_SUCCESS_BODY);
    expect(unmarshall(ddb.commandCalls(PutItemCommand)[0]!.args[0].input.Item!)).toMatchObject({ reason: 'no such contract order' });
  });

  it('payment with a field missing or malformed → 400 FAIL before any DynamoDB call', async () => {
    const { rt } = fakeRuntime();
    for (const fields of [
      (({ transaction_id: _t, ...rest }) => rest)(payment()),
      (({ out_trade_no: _o, ...rest }) => rest)(payment()),
      payment({ total_fee: '8.88' }),
      payment({ result_code: 'MAYBE' }),
    ]) {
      const result = await run(xml(signed(fields)), contractOrderPaymentApplier(rt), rt);
      expect(result.statusCode).toBe(400);
    }
    expect(ddb.calls()).toHaveLength(0);
  });

  it('contract: bound to mch_id, contract_code and plan_id; event id = contract_id:change_type', async () => {
    ddb.reset();
    ddb.on(UpdateItemCommand).resolves({ Attributes: marshall({ pk: 'PAPCODE#100001256', sk: 'CODE', state: 'SIGNED' }) });
    const { rt } = fakeRuntime();
    const result = await run(xml(signed(contract())), papayContractApplier(rt), rt);
    expect(result.body).toBe(V2_SUCCESS_BODY);
    const update = ddb.commandCalls(UpdateItemCommand)[0]!.args[0].input;
    expect(update.Key).toEqual(marshall({ pk: 'PAPCODE#100001256', sk: 'CODE' }));
    const values = unmarshall(update.ExpressionAttributeValues!);
    expect(values[':event']).toBe('Wx15463511252015071056489715:ADD');
    expect(Object.values(values)).toEqual(expect.arrayContaining([MCHID, '100001256', '12535', 'SIGNED']));
  });

  it('contract with a missing contract_id or an unknown change_type → 400', async () => {
    const { rt } = fakeRuntime();
    for (const fields of [(({ contract_id: _c, ...rest }) => rest)(contract()), contract({ change_type: 'MODIFY' })]) {
      expect((await run(xml(signed(fields)), papayContractApplier(rt), rt)).statusCode).toBe(400);
    }
  });
});
