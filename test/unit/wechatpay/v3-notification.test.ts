import { describe, expect, it } from 'vitest';
import {
  DecryptionError,
  InvalidApiV3KeyError,
  InvalidSignatureError,
  MalformedNotificationError,
  SignatureProbeError,
  SignatureVerificationError,
  buildVerifierKeys,
  encryptAeadAes256Gcm,
  openNotification,
} from '../../../shared/wechatpay/index';
import { JAVA_APIV3_KEY, generateRsaKeyPair, peer, wechatpaySignedHeaders } from './support';

const wechat = generateRsaKeyPair();
const SERIAL = 'PUB_KEY_ID_0114232134912410000000000000';
const keys = buildVerifierKeys({ [SERIAL]: wechat.publicPem });
const TS = 1_733_000_000;
const now = () => TS * 1000;

const TRANSACTION = {
  appid: 'wx8888888888888888',
  mchid: '1900000001',
  out_trade_no: 'H5ORDER0001',
  transaction_id: '4200000000000000000000000001',
  trade_type: 'MWEB',
  trade_state: 'SUCCESS',
  trade_state_desc: '支付成功',
  success_time: '2024-12-01T10:34:56+08:00',
  payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
  amount: { total: 100, payer_total: 100, currency: 'CNY', payer_currency: 'CNY' },
};

function envelope(overrides: Record<string, unknown> = {}, resourceOverrides: Record<string, unknown> = {}, plaintext = JSON.stringify(TRANSACTION)) {
  const nonce = 'fdasflkja484';
  const associatedData = (resourceOverrides['associated_data'] as string | undefined) ?? 'transaction';
  return {
    id: 'EV-2018022511223320873',
    create_time: '2015-05-20T13:29:35+08:00',
    resource_type: 'encrypt-resource',
    event_type: 'TRANSACTION.SUCCESS',
    summary: '支付成功',
    resource: {
      original_type: 'transaction',
      algorithm: 'AEAD_AES_256_GCM',
      ciphertext: encryptAeadAes256Gcm(plaintext, nonce, associatedData, JAVA_APIV3_KEY),
      associated_data: associatedData,
      nonce,
      ...resourceOverrides,
    },
    ...overrides,
  };
}

function delivery(bodyObject: unknown, headerOverrides: Record<string, string> = {}) {
  const body = typeof bodyObject === 'string' ? bodyObject : JSON.stringify(bodyObject);
  return {
    body,
    headers: { ...wechatpaySignedHeaders({ body, privateKey: wechat.privateKey, serial: SERIAL, timestamp: TS }), ...headerOverrides },
  };
}

function failure(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('openNotification', () => {
  it('verifies, decrypts and parses a TRANSACTION.SUCCESS notification', () => {
    const { body, headers } = delivery(envelope());
    const opened = openNotification({ headers, body, keys, apiV3Key: JAVA_APIV3_KEY, now });
    expect(opened).toMatchObject({
      id: 'EV-2018022511223320873',
      createTime: '2015-05-20T13:29:35+08:00',
      eventType: 'TRANSACTION.SUCCESS',
      resourceType: 'encrypt-resource',
      summary: '支付成功',
      originalType: 'transaction',
      associatedData: 'transaction',
      resource: TRANSACTION,
      signature: { serial: SERIAL, timestamp: TS },
    });
  });

  it('accepts the credit-repayment shape: empty associated_data, original_type "payscore"', () => {
    const { body, headers } = delivery(
      envelope({ event_type: 'CREDIT_REPAYMENT.DEDUCTION_PAY', summary: '信贷还款还款成功' }, { associated_data: '', original_type: 'payscore' }, '{"out_trade_no":"R1","order_state":"DEDUCT_ORDER_STATE_PAY_SUCCESS"}'),
    );
    const opened = openNotification({ headers, body: Buffer.from(body), keys, apiV3Key: JAVA_APIV3_KEY, now });
    expect(opened.eventType).toBe('CREDIT_REPAYMENT.DEDUCTION_PAY');
    expect(opened.originalType).toBe('payscore');
    expect(opened.associatedData).toBe('');
    expect(opened.resource).toEqual({ out_trade_no: 'R1', order_state: 'DEDUCT_ORDER_STATE_PAY_SUCCESS' });
  });

  it('verifies before parsing: a forged body is rejected even when it is not JSON', () => {
    const { headers } = delivery(envelope());
    const error = failure(() => openNotification({ headers, body: 'not json at all', keys, apiV3Key: JAVA_APIV3_KEY, now }));
    expect(error).toBeInstanceOf(InvalidSignatureError);
  });

  it('rejects probes as a verification failure (answer 4xx/5xx so WeChat re-sends)', () => {
    const { body, headers } = delivery(envelope(), { 'Wechatpay-Signature': 'WECHATPAY/SIGNTEST/abc' });
    const error = failure(() => openNotification({ headers, body, keys, apiV3Key: JAVA_APIV3_KEY, now }));
    expect(error).toBeInstanceOf(SignatureProbeError);
    expect(error).toBeInstanceOf(SignatureVerificationError);
  });

  it('MalformedNotificationError for signed but malformed envelopes', () => {
    const cases: unknown[] = [
      'not json',
      '[1,2]',
      { ...envelope(), resource: undefined },
      { ...envelope(), id: undefined },
      { ...envelope(), event_type: 42 },
      envelope({}, { algorithm: 'AEAD_SM4_GCM' }),
      envelope({}, { ciphertext: undefined }),
      envelope({}, { nonce: '' }),
      envelope({ summary: { text: 'x' } }),
    ];
    for (const bodyObject of cases) {
      const { body, headers } = delivery(bodyObject);
      expect(() => openNotification({ headers, body, keys, apiV3Key: JAVA_APIV3_KEY, now })).toThrow(MalformedNotificationError);
    }
  });

  it('tolerates missing informational fields', () => {
    const minimal = envelope();
    const { body, headers } = delivery({ id: minimal.id, event_type: minimal.event_type, resource: { ...minimal.resource, original_type: undefined } });
    const opened = openNotification({ headers, body, keys, apiV3Key: JAVA_APIV3_KEY, now });
    expect([opened.summary, opened.createTime, opened.resourceType, opened.originalType]).toEqual(['', '', '', '']);
  });

  it('MalformedNotificationError when the decrypted resource is not JSON', () => {
    const { body, headers } = delivery(envelope({}, {}, 'plain text'));
    expect(() => openNotification({ headers, body, keys, apiV3Key: JAVA_APIV3_KEY, now })).toThrow(/decrypted resource is not JSON/);
  });

  it('DecryptionError under the wrong APIv3 key or tampered associated data; InvalidApiV3KeyError for a 16-byte key', () => {
    const good = delivery(envelope());
    expect(() => openNotification({ ...good, keys, apiV3Key: 'b'.repeat(32), now })).toThrow(DecryptionError);
    const tampered = delivery(envelope({}, { associated_data: 'certificate', ciphertext: envelope().resource.ciphertext }));
    expect(() => openNotification({ ...tampered, keys, apiV3Key: JAVA_APIV3_KEY, now })).toThrow(DecryptionError);
    expect(() => openNotification({ ...good, keys, apiV3Key: 'testAPIv3Key0000', now })).toThrow(InvalidApiV3KeyError);
  });

  it('opens a notification encrypted and signed by the peer library', () => {
    const plaintext = JSON.stringify(TRANSACTION);
    const body = JSON.stringify({
      ...envelope(),
      resource: {
        original_type: 'transaction',
        algorithm: 'AEAD_AES_256_GCM',
        ciphertext: peer.Aes.AesGcm.encrypt(plaintext, JAVA_APIV3_KEY, '0123456789ab', 'transaction'),
        associated_data: 'transaction',
        nonce: '0123456789ab',
      },
    });
    const headers = wechatpaySignedHeaders({ body, privateKey: wechat.privatePem, serial: SERIAL, timestamp: TS });
    expect(openNotification({ headers, body, keys, apiV3Key: JAVA_APIV3_KEY, now }).resource).toEqual(TRANSACTION);
  });
});
