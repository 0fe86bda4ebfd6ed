import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createContractOrderSchema, isCompactTime } from '../../../shared/contract-order/schema';
import { canonicalParams, contractOrderParams } from '../../../shared/contract-order/wechat-request';
import { RequestValidationError, validate } from '../../../shared/http/validation';

const base = {
  out_trade_no: 'PAP20260101000001',
  body: 'Ipad mini 16G 白色',
  total_fee: 888,
  spbill_create_ip: '123.12.12.123',
  trade_type: 'APP',
  plan_id: 12535,
  contract_code: '100001256',
  request_serial: 1695,
  contract_display_account: '微信代扣',
};

function problems(body: unknown): Record<string, string> {
  try {
    validate(createContractOrderSchema, body);
  } catch (error) {
    if (!(error instanceof RequestValidationError)) throw error;
    return Object.fromEntries(error.problems.map((p) => [p.field, p.message]));
  }
  return {};
}

const ok = (body: unknown) => validate(createContractOrderSchema, body);

describe('contract order schema: trade types and their conditional fields', () => {
  it('JSAPI requires openid', () => {
    expect(problems({ ...base, trade_type: 'JSAPI' })).toEqual({ openid: 'is required when trade_type is JSAPI' });
    expect(ok({ ...base, trade_type: 'JSAPI', openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' }).openid).toBe('oUpF8uMuAJO_M2pxb1Q9zNjWeS6o');
  });

  it('NATIVE requires product_id', () => {
    expect(problems({ ...base, trade_type: 'NATIVE' })).toEqual({ product_id: 'is required when trade_type is NATIVE' });
    expect(ok({ ...base, trade_type: 'NATIVE', product_id: '12235413214070356458058' }).product_id).toBe('12235413214070356458058');
  });

  it('APP and MWEB need neither', () => {
    expect(problems({ ...base, trade_type: 'APP' })).toEqual({});
    expect(problems({ ...base, trade_type: 'MWEB' })).toEqual({});
  });

  it('refuses other trade types', () => {
    expect(problems({ ...base, trade_type: 'MICROPAY' })).toEqual({ trade_type: 'must be one of JSAPI, NATIVE, APP, MWEB' });
    expect(problems({ ...base, trade_type: 'jsapi' })).toHaveProperty('trade_type');
  });

  it('names the conditional field even when other fields are bad too', () => {
    const found = problems({ ...base, trade_type: 'JSAPI', body: '', total_fee: 0 });
    expect(Object.keys(found).sort()).toEqual(['body', 'openid', 'total_fee']);
  });
});

describe('contract order schema: service-owned fields are refused by name', () => {
  const owned = ['appid', 'mch_id', 'contract_mchid', 'contract_appid', 'nonce_str', 'sign', 'notify_url', 'contract_notify_url', 'sign_type'];
  it.each(owned)('%s', (field) => {
    expect(problems({ ...base, [field]: 'anything' })).toEqual({ [field]: 'is set by the service and must not be sent' });
  });

  it('all at once, each named', () => {
    const body = { ...base, ...Object.fromEntries(owned.map((f) => [f, 'x'])) };
    expect(Object.keys(problems(body)).sort()).toEqual([...owned].sort());
  });

  it('an unknown field is named too', () => {
    expect(problems({ ...base, scene_info: {} })).toEqual({ scene_info: 'is not a field of a contract order' });
  });

  it('a body that is not an object', () => {
    expect(problems([1, 2])).toHaveProperty('body');
    expect(problems('x')).toHaveProperty('body');
  });
});

describe('contract order schema: lengths from the seed (string[min,max], in characters)', () => {
  const limits: [field: string, max: number, extra?: Record<string, unknown>][] = [
    ['device_info', 32],
    ['body', 127],
    ['detail', 8192],
    ['attach', 127],
    ['goods_tag', 32],
    ['product_id', 32],
    ['openid', 128],
    ['contract_display_account', 64],
  ];
  it.each(limits)('%s: %i characters pass, one more fails, empty fails', (field, max) => {
    // Multi-byte characters count once: the seed's limits are characters.
    expect(problems({ ...base, [field]: '中'.repeat(max) })).toEqual({});
    expect(problems({ ...base, [field]: 'a'.repeat(max + 1) })).toEqual({ [field]: `must be at most ${max} characters` });
    expect(problems({ ...base, [field]: '' })).toEqual({ [field]: 'must not be empty' });
  });

  it('out_trade_no: 1-32 of digits, letters, _ - | *', () => {
    expect(problems({ ...base, out_trade_no: 'a'.repeat(32) })).toEqual({});
    expect(problems({ ...base, out_trade_no: 'A_b-c|d*1' })).toEqual({});
    for (const bad of ['a'.repeat(33), '', 'has space', '订单', 'a/b']) {
      expect(problems({ ...base, out_trade_no: bad })).toHaveProperty('out_trade_no');
    }
  });

  it('contract_code: 1-64 digits and letters only', () => {
    expect(problems({ ...base, contract_code: 'Ab1'.repeat(21) + 'x' })).toEqual({});
    for (const bad of ['a'.repeat(65), '', 'a-b', 'a_b', '代扣']) {
      expect(problems({ ...base, contract_code: bad })).toEqual({ contract_code: 'must be 1-64 digits or letters' });
    }
  });

  it('contract_display_account refuses 4-byte characters (emoji) but takes 3-byte ones', () => {
    expect(problems({ ...base, contract_display_account: '张三😀' })).toEqual({
      contract_display_account: 'must not contain 4-byte characters such as emoji',
    });
    expect(problems({ ...base, contract_display_account: '张三' })).toEqual({});
  });
});

describe('contract order schema: numbers, addresses, times', () => {
  it('total_fee is a positive integer number of fen within int32', () => {
    for (const bad of [0, -1, 1.5, '888', 2_147_483_648]) expect(problems({ ...base, total_fee: bad })).toHaveProperty('total_fee');
    expect(problems({ ...base, total_fee: 2_147_483_647 })).toEqual({});
  });

  it('spbill_create_ip is IPv4 only', () => {
    for (const bad of ['::1', '2001:db8::1', '256.1.1.1', 'localhost', '']) {
      expect(problems({ ...base, spbill_create_ip: bad })).toHaveProperty('spbill_create_ip');
    }
    expect(problems({ ...base, spbill_create_ip: '255.255.255.255' })).toEqual({});
  });

  it('plan_id is a positive integer', () => {
    for (const bad of [0, -3, 1.2, '12535']) expect(problems({ ...base, plan_id: bad })).toHaveProperty('plan_id');
  });

  it('request_serial: positive int64, no leading 0, as a number or (above 2^53) a digit string, normalised to text', () => {
    expect(ok({ ...base, request_serial: 1695 }).request_serial).toBe('1695');
    expect(ok({ ...base, request_serial: '9223372036854775807' }).request_serial).toBe('9223372036854775807');
    for (const bad of [0, -1, 1.5, '0', '01695', '9223372036854775808', '99999999999999999999', '1e3', '', 2 ** 53 + 2]) {
      expect(problems({ ...base, request_serial: bad })).toHaveProperty('request_serial');
    }
  });

  it('time_start / time_expire are real yyyyMMddHHmmss times, expire after start', () => {
    expect(problems({ ...base, time_start: '20091225091010', time_expire: '20091227091010' })).toEqual({});
    for (const bad of ['2009122509101', '20091325091010', '20090230091010', '20091225246010', '2009-12-25 09:10']) {
      expect(problems({ ...base, time_start: bad })).toHaveProperty('time_start');
      expect(problems({ ...base, time_expire: bad })).toHaveProperty('time_expire');
    }
    expect(problems({ ...base, time_start: '20091227091010', time_expire: '20091225091010' })).toEqual({
      time_expire: 'must be later than time_start',
    });
    expect(isCompactTime('20240229235959')).toBe(true);
    expect(isCompactTime('20230229235959')).toBe(false);
  });

  it('limit_pay is no_credit only', () => {
    expect(problems({ ...base, limit_pay: 'no_credit' })).toEqual({});
    expect(problems({ ...base, limit_pay: 'no_debit' })).toEqual({ limit_pay: 'must be no_credit' });
  });

  it('each required field, when missing, is named', () => {
    for (const field of Object.keys(base)) {
      const { [field]: _dropped, ...rest } = base as Record<string, unknown>;
      expect(problems(rest)).toHaveProperty(field);
    }
  });
});

describe('contract order request: the parameters sent and their fingerprint', () => {
  const merchant = { mchid: '1900000001', appid: 'wx8888888888888888' };

  it('fills the service-owned fields: contract_mchid = mch_id, contract_appid = appid, our notify routes', () => {
    const params = contractOrderParams(ok({ ...base, trade_type: 'JSAPI', openid: 'o1' }), merchant, 'https://pay.example.com');
    expect(params).toMatchObject({
      appid: merchant.appid,
      mch_id: merchant.mchid,
      contract_mchid: merchant.mchid,
      contract_appid: merchant.appid,
      notify_url: 'https://pay.example.com/notify/contract-order/payment',
      contract_notify_url: 'https://pay.example.com/notify/contract-order/contract',
      total_fee: '888',
      plan_id: '12535',
      request_serial: '1695',
      openid: 'o1',
    });
    expect(params).not.toHaveProperty('nonce_str');
    expect(params).not.toHaveProperty('sign');
  });

  it('the canonical form ignores the order of the caller JSON and absent optionals', () => {
    fc.assert(
      fc.property(fc.shuffledSubarray(Object.keys(base), { minLength: Object.keys(base).length }), (order) => {
        const shuffled = Object.fromEntries(order.map((k) => [k, (base as Record<string, unknown>)[k]]));
        const a = canonicalParams(contractOrderParams(ok(shuffled), merchant, 'https://x.test'));
        const b = canonicalParams(contractOrderParams(ok(base), merchant, 'https://x.test'));
        expect(a).toBe(b);
      }),
      { numRuns: 50 },
    );
  });

  it('any changed field changes the canonical form', () => {
    const reference = canonicalParams(contractOrderParams(ok(base), merchant, 'https://x.test'));
    for (const change of [{ total_fee: 889 }, { contract_code: 'X1' }, { request_serial: 1696 }, { attach: 'a' }]) {
      expect(canonicalParams(contractOrderParams(ok({ ...base, ...change }), merchant, 'https://x.test'))).not.toBe(reference);
    }
  });

  it('fuzz: whatever is accepted fits WeChat length limits', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 140 }), fc.string({ maxLength: 70 }), (body, display) => {
        const result = problems({ ...base, body, contract_display_account: display });
        if (Object.keys(result).length === 0) {
          expect([...body].length).toBeLessThanOrEqual(127);
          expect([...display].length).toBeLessThanOrEqual(64);
          expect([...body].length).toBeGreaterThan(0);
        }
      }),
    );
  });
});
