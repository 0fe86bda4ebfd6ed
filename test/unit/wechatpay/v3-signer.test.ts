import { createPublicKey, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  buildAuthorization,
  canonicalUrl,
  createNonce,
  formatAuthorization,
  privateKeyFrom,
  publicKeyFrom,
  rsaSha256Sign,
  rsaSha256Verify,
  signatureMessage,
} from '../../../shared/wechatpay/index';
import { GO_PRIVATE_KEY_PEM, MERCHANT_CERTIFICATE_PEM, MERCHANT_PRIVATE_KEY_PEM, WECHATPAY_PUBLIC_KEY_PEM, peer } from './support';

// V1 of docs/wechatpay.md (Go SDK utils/sign_test.go)
const V1_SIGNATURE =
  'BKyAfU4iMCuvXMXS0Wzam3V/cnxZ+JaqigPM5OhljS2iOT95OO6Fsuml2JkFANJU9K6q9bLlDhPXuoVz+pp4hAm6pHU4ld815U4jsKu1RkyaII+1CYBUYC8TK0XtJ8FwUXXz8vZHh58rrAVN1XwNyvD1vfpxrMT4SL536GLwvpUHlCqIMzoZUguLli/K8V29QiOhuH6IEqLNJn8e9b3nwNcQ7be3CzYGpDAKBfDGPCqCv8Rw5zndhlffk2FEA70G4hvMwe51qMN/RAJbknXG23bSlObuTCN7Ndj1aJGH6/L+hdwfLpUtJm4QYVazzW7DFD27EpSQEqA8bX9+8m1rLg==';
// V3 of docs/wechatpay.md (Java SDK RSAVerifierTest)
const V3_SIGNATURE =
  'Rq+5ZpWV6IHTWE1+9gCrYJKguNgbItpMdlIA+PVCPCdUAKNlohZz7CL7Y8xWDIFJjdGnErMj6Z+Q/h9CF5MV+nAVkqDmBR0uP5ppsUEzco4ijvKHsvI2ro4boSW6vSfQs3W8I4QSI9a0/NFIgvj83Fv27LIYZf7deaFWmEwd1fpAeJRCyoKyBeJPdsjVx0//Lqe6Wze2zVdliLcBvaHCfpd8+rAVGS+FQDeWgHqJ7n/Zy09LmV1/ghs7pO1mdjdD16SHKlysAD3K5hNGUJX/SHrEXEcu1yO1AOb/YvOVkjNh8243rcfXNE5L4ph2XS11vS+2aToKYSOcKUagf0LLaw==';

describe('V1: Go SDK RSA-SHA256 vector', () => {
  it('signs "source" to the published signature', () => {
    expect(rsaSha256Sign('source', GO_PRIVATE_KEY_PEM)).toBe(V1_SIGNATURE);
    expect(rsaSha256Sign(Buffer.from('source'), privateKeyFrom(GO_PRIVATE_KEY_PEM))).toBe(V1_SIGNATURE);
  });

  it('builds the GET message with an empty body line, as the Go credential test expects', () => {
    expect(signatureMessage('GET', '/v3/certificates', 1624523846, 'A1B2C3D4E5F6G7', '')).toBe(
      'GET\n/v3/certificates\n1624523846\nA1B2C3D4E5F6G7\n\n',
    );
  });

  it('lays the Authorization header out like the Go credential test (mock signer)', () => {
    const message = signatureMessage('GET', '/v3/certificates', 1624523846, 'A1B2C3D4E5F6G7', '');
    expect(
      formatAuthorization({
        scheme: 'WECHATPAY2-Mock',
        mchid: '1234567890',
        nonce: 'A1B2C3D4E5F6G7',
        timestamp: 1624523846,
        serialNo: '0123456789ABC',
        signature: `Sign:${message}`,
      }),
    ).toBe(
      'WECHATPAY2-Mock mchid="1234567890",nonce_str="A1B2C3D4E5F6G7",timestamp="1624523846",serial_no="0123456789ABC",signature="Sign:GET\n/v3/certificates\n1624523846\nA1B2C3D4E5F6G7\n\n"',
    );
  });

  it('builds the full Authorization with a fixed nonce and timestamp', () => {
    const header = buildAuthorization({
      mchid: '1234567890',
      serialNo: '0123456789ABC',
      privateKey: GO_PRIVATE_KEY_PEM,
      method: 'get',
      url: 'https://api.mch.weixin.qq.com/v3/certificates',
      timestamp: 1624523846,
      nonce: 'A1B2C3D4E5F6G7',
    });
    const expectedSignature = rsaSha256Sign('GET\n/v3/certificates\n1624523846\nA1B2C3D4E5F6G7\n\n', GO_PRIVATE_KEY_PEM);
    expect(header).toBe(
      `WECHATPAY2-SHA256-RSA2048 mchid="1234567890",nonce_str="A1B2C3D4E5F6G7",timestamp="1624523846",serial_no="0123456789ABC",signature="${expectedSignature}"`,
    );
    const signature = /signature="([^"]+)"/.exec(header)?.[1] ?? '';
    const publicKey = createPublicKey(privateKeyFrom(GO_PRIVATE_KEY_PEM));
    expect(verify('sha256', Buffer.from('GET\n/v3/certificates\n1624523846\nA1B2C3D4E5F6G7\n\n'), publicKey, Buffer.from(signature, 'base64'))).toBe(true);
  });
});

describe('V3: Java SDK merchant-key vector', () => {
  it('signs "message" to the published signature, which verifies under the merchant certificate', () => {
    expect(rsaSha256Sign('message', MERCHANT_PRIVATE_KEY_PEM)).toBe(V3_SIGNATURE);
    expect(rsaSha256Verify('message', V3_SIGNATURE, publicKeyFrom(MERCHANT_CERTIFICATE_PEM))).toBe(true);
  });

  it('does not verify under wechat_pay_public_key.pem (a different key)', () => {
    expect(rsaSha256Verify('message', V3_SIGNATURE, publicKeyFrom(WECHATPAY_PUBLIC_KEY_PEM))).toBe(false);
  });

  it('rejects a tampered message or a non-Base64 signature', () => {
    const key = publicKeyFrom(MERCHANT_CERTIFICATE_PEM);
    expect(rsaSha256Verify('messagE', V3_SIGNATURE, key)).toBe(false);
    expect(rsaSha256Verify('message', `${V3_SIGNATURE.slice(0, -4)}!!!!`, key)).toBe(false);
  });
});

describe('signature message', () => {
  it('always emits the body line, also for a POST without body', () => {
    expect(signatureMessage('POST', '/v3/x', 1, 'n', '')).toBe('POST\n/v3/x\n1\nn\n\n');
    expect(signatureMessage('post', '/v3/x', '1', 'n', '{"a":1}')).toBe('POST\n/v3/x\n1\nn\n{"a":1}\n');
  });

  it('matches the peer formatter byte for byte', () => {
    const body = '{"appid":"wx8888888888888888","description":"中文 ✓"}';
    expect(signatureMessage('POST', '/v3/pay/transactions/h5', 1554208460, 'N', body)).toBe(
      peer.Formatter.request('POST', '/v3/pay/transactions/h5', 1554208460, 'N', body),
    );
  });
});

describe('canonicalUrl', () => {
  it('keeps path and raw query, drops scheme, host and fragment', () => {
    expect(
      canonicalUrl(
        'https://api.mch.weixin.qq.com/v3/credit-repayment/partner/schedule-records/DeductOrder123456?contract_id=20251105000000123456789',
      ),
    ).toBe('/v3/credit-repayment/partner/schedule-records/DeductOrder123456?contract_id=20251105000000123456789');
    expect(canonicalUrl('https://h/v3/x?b=%E4%B8%AD&a=1#frag')).toBe('/v3/x?b=%E4%B8%AD&a=1');
    expect(canonicalUrl(new URL('https://h/v3/y'))).toBe('/v3/y');
    expect(canonicalUrl('/v3/z?x=1')).toBe('/v3/z?x=1');
  });

  it('signs the path the way fetch will send it (percent-encoding applied)', () => {
    expect(canonicalUrl('https://h/v3/a b?q=c d')).toBe('/v3/a%20b?q=c%20d');
  });

  it('keeps an empty query marker, which is still sent', () => {
    expect(canonicalUrl('https://h/v3/x?')).toBe('/v3/x?');
    expect(canonicalUrl('https://h/v3/x?#')).toBe('/v3/x?');
  });
});

describe('createNonce', () => {
  it('returns 32 characters of [0-9A-Za-z], different each time', () => {
    const nonces = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const nonce = createNonce();
      expect(nonce).toMatch(/^[0-9A-Za-z]{32}$/);
      nonces.add(nonce);
    }
    expect(nonces.size).toBe(200);
  });

  it('uses the whole alphabet without gross bias', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 2000; i++) for (const c of createNonce()) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(62);
    // 64 000 draws over 62 symbols: ~1032 each; a byte % 62 bias would push the first 8 to ~1290.
    for (const count of counts.values()) {
      expect(count).toBeGreaterThan(850);
      expect(count).toBeLessThan(1220);
    }
  });
});

describe('buildAuthorization', () => {
  it('defaults timestamp to now (seconds) and a fresh nonce', () => {
    const before = Math.floor(Date.now() / 1000);
    const header = buildAuthorization({ mchid: '1', serialNo: 'S', privateKey: GO_PRIVATE_KEY_PEM, method: 'POST', url: '/v3/x', body: '{}' });
    const timestamp = Number(/timestamp="(\d+)"/.exec(header)?.[1]);
    expect(timestamp).toBeGreaterThanOrEqual(before);
    expect(timestamp).toBeLessThanOrEqual(before + 1);
    expect(header).toMatch(/nonce_str="[0-9A-Za-z]{32}"/);
  });

  it('refuses millisecond timestamps', () => {
    expect(() =>
      buildAuthorization({ mchid: '1', serialNo: 'S', privateKey: GO_PRIVATE_KEY_PEM, method: 'GET', url: '/v3/x', timestamp: Date.now() }),
    ).toThrow(RangeError);
  });

  it('produces headers the peer library verifies', () => {
    const body = JSON.stringify({ out_trade_no: 'T1', amount: { total: 1 } });
    const header = buildAuthorization({
      mchid: '1900000001',
      serialNo: '5F1C72E2A8931B72A2E13AF8DEE92471EB397115',
      privateKey: MERCHANT_PRIVATE_KEY_PEM,
      method: 'POST',
      url: 'https://api.mch.weixin.qq.com/v3/pay/transactions/h5?x=1',
      body,
      timestamp: 1700000000,
      nonce: 'NONCE',
    });
    const signature = /signature="([^"]+)"/.exec(header)?.[1] ?? '';
    const message = peer.Formatter.request('POST', '/v3/pay/transactions/h5?x=1', 1700000000, 'NONCE', body);
    expect(peer.Rsa.verify(message, signature, publicKeyFrom(MERCHANT_CERTIFICATE_PEM))).toBe(true);
  });
});
