/**
 * Regression tests for the product bugs the adversarial suite found (each also caught by the suite itself:
 * forged-notifications.test.ts "signature base64url alphabet", schema-fuzz.test.ts `errors[].field`).
 */
import { createSign, generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createContractOrderSchema } from '../../shared/contract-order/schema';
import { createH5OrderSchema } from '../../shared/h5-payment/schema';
import { RequestValidationError, validate } from '../../shared/http/validation';
import { createRepaymentContractSchema } from '../../shared/repayment-contract/schema';
import { decodeBase64Strict } from '../../shared/wechatpay/base64';
import { DecryptionError, SignatureVerificationError, decryptAeadAes256Gcm, encryptAeadAes256Gcm, verifyWechatPaySignature } from '../../shared/wechatpay';

const urlSafe = (b64: string) => b64.replaceAll('+', '-').replaceAll('/', '_');

describe('decodeBase64Strict is standard Base64 only (shared/wechatpay/base64.ts)', () => {
  it('refuses the URL-safe alphabet that Buffer.from(…, "base64") silently accepts', () => {
    const bytes = Buffer.from([0xfb, 0xff, 0xbf, 0x3e, 0x3f]); // "+/+/Pj8=" in standard Base64
    const standard = bytes.toString('base64');
    expect(standard).toMatch(/[+/]/);
    expect(decodeBase64Strict(standard)).toEqual(bytes);
    expect(Buffer.from(urlSafe(standard), 'base64')).toEqual(bytes); // what Node does
    expect(decodeBase64Strict(urlSafe(standard))).toBeUndefined();
  });

  it('so a notification signature re-encoded as base64url does not verify', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const body = '{"id":"EV-1"}';
    const timestamp = String(Math.floor(Date.now() / 1000));
    let nonce = '';
    let signature = '';
    do {
      nonce = randomBytes(16).toString('hex');
      signature = createSign('RSA-SHA256').update(`${timestamp}\n${nonce}\n${body}\n`).sign(privateKey, 'base64');
    } while (!/[+/]/.test(signature));
    const keys = new Map([['PUB_KEY_ID_1', publicKey]]);
    const headers = (sig: string) => ({
      'wechatpay-timestamp': timestamp,
      'wechatpay-nonce': nonce,
      'wechatpay-signature': sig,
      'wechatpay-serial': 'PUB_KEY_ID_1',
    });
    expect(verifyWechatPaySignature({ headers: headers(signature), body, keys }).serial).toBe('PUB_KEY_ID_1');
    expect(() => verifyWechatPaySignature({ headers: headers(urlSafe(signature)), body, keys })).toThrow(SignatureVerificationError);
  });

  it('and a base64url resource ciphertext does not decrypt', () => {
    const key = 'a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb';
    let ciphertext = '';
    for (let i = 0; !/[+/]/.test(ciphertext); i++) ciphertext = encryptAeadAes256Gcm(`{"n":${i}}`, 'uluk4a9R25RW', 'transaction', key);
    expect(decryptAeadAes256Gcm({ ciphertext, nonce: 'uluk4a9R25RW', associatedData: 'transaction' }, key).toString()).toMatch(/^\{"n":\d+\}$/);
    expect(() => decryptAeadAes256Gcm({ ciphertext: urlSafe(ciphertext), nonce: 'uluk4a9R25RW', associatedData: 'transaction' }, key)).toThrow(DecryptionError);
  });
});

function problems(schema: Parameters<typeof validate>[0], body: unknown) {
  try {
    validate(schema, body);
  } catch (error) {
    if (error instanceof RequestValidationError) return error.problems;
    throw error;
  }
  return [];
}

describe('validate() names a field for every problem (shared/http/validation.ts)', () => {
  it.each([
    ['h5', createH5OrderSchema],
    ['contract order', createContractOrderSchema],
    ['repayment contract', createRepaymentContractSchema],
  ] as const)('%s: a member with the empty key "" is reported on "body", not on ""', (_name, schema) => {
    const found = problems(schema, JSON.parse('{"":1}'));
    expect(found.length).toBeGreaterThan(0);
    expect(found.every((p) => p.field !== '')).toBe(true);
    expect(found.map((p) => p.field)).toContain('body');
  });
});

describe('contract order schema (shared/contract-order/schema.ts)', () => {
  it('a missing required field is "is required", not "must be a JSON object"', () => {
    const found = problems(createContractOrderSchema, {});
    expect(found.find((p) => p.field === 'out_trade_no')?.message).toBe('is required');
    expect(found.find((p) => p.field === 'contract_code')?.message).toBe('is required');
    expect(problems(createContractOrderSchema, 'x')).toEqual([{ field: 'body', message: 'must be an object' }]);
  });
});
