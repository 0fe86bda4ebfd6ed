import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { RequestValidationError, validate } from '../../../shared/http/validation';
import { createH5OrderSchema } from '../../../shared/h5-payment/schema';

function problems(schema: v.GenericSchema, input: unknown) {
  try {
    validate(schema, input);
  } catch (error) {
    if (error instanceof RequestValidationError) return error.problems;
    throw error;
  }
  throw new Error('expected a validation error');
}

describe('validate', () => {
  it('names every unknown key, at any depth, next to the other bad fields', () => {
    const schema = v.strictObject({
      a: v.optional(v.strictObject({ b: v.string() })),
      c: v.pipe(v.array(v.strictObject({ d: v.number() })), v.minLength(1)),
    });
    const found = problems(schema, { x: 1, y: 2, a: { b: 1, z: 1, w: 2 }, c: [{ d: 1, q: 1 }] });
    expect(found.map((p) => p.field).sort()).toEqual(['a.b', 'a.w', 'a.z', 'c.0.q', 'x', 'y']);
    expect(found.find((p) => p.field === 'x')?.message).toBe('is not a known field');
  });

  it('on a real request schema: unknown keys and service-owned fields are each named', () => {
    const found = problems(createH5OrderSchema, {
      out_trade_no: 'T20261123001',
      description: 'x',
      amount: { total: 1, cents: 5 },
      scene_info: { payer_client_ip: '1.2.3.4', h5_info: { type: 'Wap' } },
      mchid: '1900000001',
      extra: true,
      other: 1,
    });
    expect(found.map((p) => p.field).sort()).toEqual(['amount.cents', 'extra', 'mchid', 'other']);
    expect(found.find((p) => p.field === 'mchid')?.message).toMatch(/set by the service/);
  });
});
