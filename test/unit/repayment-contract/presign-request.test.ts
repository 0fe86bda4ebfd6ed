import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RequestValidationError, validate } from '../../../shared/http/validation';
import { buildMerchantContext, type MerchantContext } from '../../../shared/merchant/context';
import { createRepaymentContractSchema } from '../../../shared/repayment-contract/schema';
import {
  normalizePresign,
  presignBody,
  presignFingerprint,
  type NormalizedPresign,
} from '../../../shared/repayment-contract/wechat-request';
import { decryptSensitive } from '../../../shared/wechatpay';

const ID_NUMBER = '11010519491231002X';
const NAME = '欧阳娜娜';
const BASE_URL = 'https://pay.example.com';

const body = (over: Record<string, unknown> = {}) => ({
  plan_id: 'PLAN_REPAY_001',
  out_contract_code: 'RC20260101000001',
  repayment_day: 5,
  repayment_amount_limit: '10000',
  real_identity: { identity_type: 'REAL_IDENTITY_TYPE_ID_CARD', identity_id: ID_NUMBER, real_name: NAME },
  trade_info: { out_trade_no: 'RT20260101000001', deduct_amount: '5000', description: '信贷还款' },
  ...over,
});

function problems(input: unknown): Record<string, string> {
  try {
    validate(createRepaymentContractSchema, input);
  } catch (error) {
    if (!(error instanceof RequestValidationError)) throw error;
    return Object.fromEntries(error.problems.map((p) => [p.field, p.message]));
  }
  return {};
}

const wechatpay = generateKeyPairSync('rsa', { modulusLength: 2048 });
const merchantKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = (key: { export(o: object): string | Buffer }, type: 'spki' | 'pkcs8') => key.export({ type, format: 'pem' }).toString();

const FINGERPRINT_KEYS = { 'fp-1': 'fingerprint-hmac-key-for-tests-000000' };

function merchant(fingerprintKeys: Record<string, string> = FINGERPRINT_KEYS, apiV3Key = '0123456789abcdef0123456789abcdef'): MerchantContext {
  return buildMerchantContext(
    'partner',
    {
      mchid: '1900000100',
      appid: 'wx9999999999999999',
      merchantSerialNo: 'ABCDEF0123456789',
      merchantPrivateKey: pem(merchantKey.privateKey, 'pkcs8'),
      apiV3Key,
      wechatpayPublicKeys: { PUB_KEY_ID_0000000000000024101100397200000006: pem(wechatpay.publicKey, 'spki') },
      fingerprintKeys,
    },
    { baseUrls: ['http://127.0.0.1:9'], timeoutMs: 1000 },
  );
}

const m = merchant();
const normalized = (over: Record<string, unknown> = {}, ctx: MerchantContext = m): NormalizedPresign =>
  normalizePresign(validate(createRepaymentContractSchema, body(over)), ctx, BASE_URL);

describe('presign schema: every problem is named by its field', () => {
  it('accepts the documented fields', () => {
    expect(problems(body())).toEqual({});
    expect(problems(body({ appid: 'wx1', sub_mchid: '1000000109', sub_appid: 'wx2', jump_info: { jump_appid: 'wx3' }, display_name: '***娜' }))).toEqual({});
  });

  it('names required and malformed fields', () => {
    expect(problems({})).toEqual({
      plan_id: 'is required',
      out_contract_code: 'is required',
      repayment_amount_limit: 'is required',
      real_identity: 'is required',
    });
    expect(Object.keys(problems(body({ out_contract_code: 'has-dash' })))).toEqual(['out_contract_code']);
    expect(Object.keys(problems(body({ out_contract_code: 'A'.repeat(65) })))).toEqual(['out_contract_code']);
    expect(Object.keys(problems(body({ repayment_amount_limit: 10000 })))).toEqual(['repayment_amount_limit']);
    expect(Object.keys(problems(body({ repayment_amount_limit: '010' })))).toEqual(['repayment_amount_limit']);
    expect(Object.keys(problems(body({ repayment_day: 0 })))).toEqual(['repayment_day']);
    expect(Object.keys(problems(body({ repayment_day: 1.5 })))).toEqual(['repayment_day']);
    expect(Object.keys(problems(body({ sub_appid: 'wx2' })))).toEqual(['sub_appid']);
    expect(Object.keys(problems(body({ trade_info: { out_trade_no: 'T_1', deduct_amount: '1' } })))).toEqual(['trade_info.out_trade_no']);
    expect(problems(body({ trade_info: { out_trade_no: 'T1', deduct_amount: '10001' } }))).toEqual({
      'trade_info.deduct_amount': 'must not exceed repayment_amount_limit',
    });
    expect(problems(body({ extra: 1, trade_info: { out_trade_no: 'T1', deduct_amount: '1', foo: 2 } }))).toEqual({
      extra: 'is not a known field',
      'trade_info.foo': 'is not a known field',
    });
  });

  it('refuses the notify URLs: they are ours', () => {
    expect(problems(body({ contract_notify_url: 'https://evil.example/n' }))).toEqual({
      contract_notify_url: 'is set by the service and must not be sent',
    });
    expect(problems(body({ trade_info: { out_trade_no: 'T1', deduct_amount: '1', notify_url: 'https://evil.example/n' } }))).toEqual({
      'trade_info.notify_url': 'is set by the service and must not be sent',
    });
  });

  it('checks display_name against the mask of real_name and names display_name', () => {
    expect(problems(body({ display_name: '***娜' }))).toEqual({});
    expect(Object.keys(problems(body({ display_name: '*娜' })))).toEqual(['display_name']);
    expect(Object.keys(problems(body({ display_name: NAME })))).toEqual(['display_name']);
  });

  it('validates the identity: ID card format with checksum, name length', () => {
    const identity = (over: Record<string, unknown>) => body({ real_identity: { ...body().real_identity, ...over } });
    expect(Object.keys(problems(identity({ identity_id: '110105194912310021' })))).toEqual(['real_identity.identity_id']);
    expect(Object.keys(problems(identity({ identity_id: '1101051949123100' })))).toEqual(['real_identity.identity_id']);
    expect(problems(identity({ identity_id: '110105491231002' }))).toEqual({});
    expect(Object.keys(problems(identity({ identity_type: 'REAL_IDENTITY_TYPE_INVALID' })))).toEqual(['real_identity.identity_type']);
    expect(Object.keys(problems(identity({ real_name: '' })))).toEqual(['real_identity.real_name']);
    expect(Object.keys(problems(identity({ real_name: '张'.repeat(65) })))).toEqual(['real_identity.real_name']);
    expect(Object.keys(problems(identity({ real_name: ' 张三' })))).toEqual(['real_identity.real_name']);
    expect(Object.keys(problems(identity({ real_name: '张\n三' })))).toEqual(['real_identity.real_name']);
    expect(Object.keys(problems(identity({ real_name: '张三😀' })))).toEqual(['real_identity.real_name']);
    const { real_identity: _omitted, ...withoutIdentity } = body();
    expect(problems(withoutIdentity)).toEqual({ real_identity: 'is required' });
  });

  it('never echoes a value in a problem (they are logged, and stored for queued requests)', () => {
    const secret = fc.string({ minLength: 6, maxLength: 30 }).filter((s) => /^[A-Za-z0-9\u4e00-\u9fa5]+$/.test(s) && s.length >= 6);
    fc.assert(
      fc.property(secret, (value) => {
        const bad = [
          body({ real_identity: value }),
          body({ real_identity: { identity_type: value, identity_id: value, real_name: 5 } }),
          body({ real_identity: { identity_type: 'REAL_IDENTITY_TYPE_ID_CARD', identity_id: value, real_name: `${value}  ` } }),
          body({ display_name: value, plan_id: 7, trade_info: value, jump_info: value }),
          body({ display_name: value, real_identity: { identity_type: value, identity_id: 5, real_name: 5 } }),
          body({ display_name: value, repayment_amount_limit: value, real_identity: value, trade_info: { out_trade_no: value, deduct_amount: 5 } }),
          value,
        ];
        for (const input of bad) {
          const found = JSON.stringify(problems(input));
          expect(found).not.toContain(value);
        }
      }),
      { numRuns: 50 },
    );
  });
});

describe('the presign sent to WeChat', () => {
  it('fills appid and display_name, and puts our notify URLs in', () => {
    const n = normalized();
    expect(n.appid).toBe('wx9999999999999999');
    expect(n.display_name).toBe('***娜');
    expect(n.contract_notify_url).toBe(`${BASE_URL}/notify/repayment-contract`);
    expect(n.trade_info?.notify_url).toBe(`${BASE_URL}/notify/repayment`);
    expect(normalized({ trade_info: undefined }).trade_info).toBeUndefined();
  });

  it('encrypts the real-name fields (RSA-OAEP) to the WeChat Pay key it names in Wechatpay-Serial', () => {
    const { body: text, wechatpaySerial } = presignBody(normalized(), m.encryptionKey());
    expect(wechatpaySerial).toBe('PUB_KEY_ID_0000000000000024101100397200000006');
    expect(text).not.toContain(ID_NUMBER);
    expect(text).not.toContain(NAME);
    const sent = JSON.parse(text) as { real_identity: { identity_type: string; identity_id: string; real_name: string }; display_name: string };
    expect(sent.real_identity.identity_type).toBe('REAL_IDENTITY_TYPE_ID_CARD');
    expect(decryptSensitive(sent.real_identity.identity_id, wechatpay.privateKey)).toBe(ID_NUMBER);
    expect(decryptSensitive(sent.real_identity.real_name, wechatpay.privateKey)).toBe(NAME);
    expect(sent.display_name).toBe('***娜');
    expect(Object.keys(JSON.parse(text) as object)).toEqual(Object.keys(normalized()));
  });

  it('sends the ID number with an upper-case check character', () => {
    const n = normalized({ real_identity: { identity_type: 'REAL_IDENTITY_TYPE_ID_CARD', identity_id: ID_NUMBER.toLowerCase(), real_name: NAME } });
    const sent = JSON.parse(presignBody(n, m.encryptionKey()).body) as { real_identity: { identity_id: string } };
    expect(decryptSensitive(sent.real_identity.identity_id, wechatpay.privateKey)).toBe(ID_NUMBER);
  });
});

describe('request fingerprint', () => {
  it('is stable across OAEP randomness: same request, different ciphertexts, one fingerprint', () => {
    const first = presignBody(normalized(), m.encryptionKey()).body;
    const second = presignBody(normalized(), m.encryptionKey()).body;
    expect(first).not.toBe(second);
    expect(m.fingerprint(first).value).not.toBe(m.fingerprint(second).value);
    expect(presignFingerprint(normalized(), m).value).toBe(presignFingerprint(normalized(), m).value);
  });

  it('treats equivalent requests as the same request', () => {
    const fp = presignFingerprint(normalized(), m).value;
    expect(presignFingerprint(normalized({ display_name: '***娜' }), m).value).toBe(fp);
    expect(presignFingerprint(normalized({ appid: 'wx9999999999999999' }), m).value).toBe(fp);
    const lower = { identity_type: 'REAL_IDENTITY_TYPE_ID_CARD', identity_id: ID_NUMBER.toLowerCase(), real_name: NAME };
    expect(presignFingerprint(normalized({ real_identity: lower }), m).value).toBe(fp);
    expect(presignFingerprint(normalized({ jump_info: {} }), m).value).toBe(presignFingerprint(normalized({ jump_info: undefined }), m).value);
  });

  it('changes with any field, the plain-text identity included', () => {
    const fp = presignFingerprint(normalized(), m).value;
    const identity = body().real_identity;
    for (const over of [
      { real_identity: { ...identity, real_name: '欧阳娜' } },
      { real_identity: { ...identity, identity_id: '110101199003070134' } },
      { repayment_day: 6 },
      { trade_info: { out_trade_no: 'RT20260101000001', deduct_amount: '5001' } },
      { trade_info: undefined },
      { jump_info: { jump_appid: 'wx3' } },
    ]) {
      expect(presignFingerprint(normalized(over), m).value).not.toBe(fp);
    }
  });

  it('is a keyed HMAC: another merchant key gives another fingerprint, and it carries no plain text', () => {
    const fp = presignFingerprint(normalized(), m).value;
    const other = merchant({ 'fp-1': 'another-fingerprint-key-0000000000000' });
    expect(presignFingerprint(normalized({}, other), other).value).not.toBe(fp);
    expect(presignFingerprint(normalized({}, other), other).matches(fp)).toBe(false);
    expect(fp).toMatch(/^fp-1:[A-Za-z0-9_-]{43}$/);
    expect(fp).not.toContain(ID_NUMBER);
  });

  it('survives a rotation of the APIv3 key: the same request still matches its stored fingerprint', () => {
    const stored = presignFingerprint(normalized(), m).value;
    const rotated = merchant(FINGERPRINT_KEYS, 'fedcba9876543210fedcba9876543210');
    expect(presignFingerprint(normalized({}, rotated), rotated).matches(stored)).toBe(true);
  });

  it('survives a rotation of the fingerprint key itself while the old key is kept', () => {
    const stored = presignFingerprint(normalized(), m).value;
    const rotated = merchant({ 'fp-2': 'the-next-fingerprint-key-00000000000', ...FINGERPRINT_KEYS });
    const now = presignFingerprint(normalized({}, rotated), rotated);
    expect(now.value).toMatch(/^fp-2:/);
    expect(now.matches(stored)).toBe(true);
    expect(presignFingerprint(normalized({ repayment_day: 6 }, rotated), rotated).matches(stored)).toBe(false);
    // Dropping the old key makes its records unrecognisable rather than wrongly matched.
    const dropped = merchant({ 'fp-2': 'the-next-fingerprint-key-00000000000' });
    expect(presignFingerprint(normalized({}, dropped), dropped).matches(stored)).toBe(false);
  });
});
