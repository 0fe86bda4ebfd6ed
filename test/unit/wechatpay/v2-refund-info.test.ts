import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RefundInfoError, decryptRefundInfo } from '../../../shared/wechatpay/index';
import { peer } from './support';

const API_V2_KEY = 'Kq7fJ2mW9xR4tY6uI8oP0aS3dF5gH1jL';
const md5Key = (key: string) => createHash('md5').update(key).digest('hex');

const INNER = {
  out_refund_no: 'RF202612030001',
  out_trade_no: 'PAP0123456789',
  refund_account: 'REFUND_SOURCE_UNSETTLED_FUNDS',
  refund_fee: '300',
  refund_id: '50000000382019052709732678859',
  refund_recv_accout: '支付用户零钱',
  refund_request_source: 'API',
  refund_status: 'SUCCESS',
  settlement_refund_fee: '300',
  settlement_total_fee: '888',
  success_time: '2026-12-03 10:00:00',
  total_fee: '888',
  transaction_id: '4200000215201905271550669925',
};

/** req_info as WeChat builds it, by an independent implementation (wechatpay-axios-plugin's AES-256-ECB). */
function peerReqInfo(fields: Record<string, string>, key = API_V2_KEY): string {
  const xml = `<root>${Object.entries(fields).map(([k, v]) => `<${k}><![CDATA[${v}]]></${k}>`).join('')}</root>`;
  return peer.Aes.AesEcb.encrypt(xml, md5Key(key));
}

describe('APIv2 refund notification req_info', () => {
  it('opens what an independent implementation encrypts under the MD5 of the APIv2 key', () => {
    expect(decryptRefundInfo(peerReqInfo(INNER), API_V2_KEY)).toEqual(INNER);
  });

  it('the peer opens what it encrypted with the same key we derive (the key derivation agrees)', () => {
    const reqInfo = peerReqInfo(INNER);
    expect(peer.Aes.AesEcb.decrypt(reqInfo, md5Key(API_V2_KEY))).toContain('<out_refund_no><![CDATA[RF202612030001]]></out_refund_no>');
  });

  it('refuses a wrong key, a tampered ciphertext, non-base64, partial blocks and a document of another shape', () => {
    const good = peerReqInfo(INNER);
    expect(() => decryptRefundInfo(good, 'X'.repeat(32))).toThrow(RefundInfoError);
    const bytes = Buffer.from(good, 'base64');
    bytes[bytes.length - 1]! ^= 0x01; // the padding block
    expect(() => decryptRefundInfo(bytes.toString('base64'), API_V2_KEY)).toThrow(RefundInfoError);
    expect(() => decryptRefundInfo('not base64!', API_V2_KEY)).toThrow(RefundInfoError);
    expect(() => decryptRefundInfo(randomBytes(20).toString('base64'), API_V2_KEY)).toThrow(RefundInfoError);
    const xmlRoot = peer.Aes.AesEcb.encrypt('<xml><a>1</a></xml>', md5Key(API_V2_KEY));
    expect(() => decryptRefundInfo(xmlRoot, API_V2_KEY)).toThrow(RefundInfoError);
    const nested = peer.Aes.AesEcb.encrypt('<root><a><b>1</b></a></root>', md5Key(API_V2_KEY));
    expect(() => decryptRefundInfo(nested, API_V2_KEY)).toThrow(RefundInfoError);
    const entity = peer.Aes.AesEcb.encrypt('<!DOCTYPE r [<!ENTITY x "y">]><root><a>&x;</a></root>', md5Key(API_V2_KEY));
    expect(() => decryptRefundInfo(entity, API_V2_KEY)).toThrow(RefundInfoError);
    expect(() => decryptRefundInfo('A'.repeat(20_000), API_V2_KEY)).toThrow(RefundInfoError);
  });
});
