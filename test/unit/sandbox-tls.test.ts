import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCa, derSerial, issueMerchantCertificate, issueServerCertificate } from '../../sandbox/tls';

describe('sandbox PKI', () => {
  it('writes every serial as minimal, positive DER (a leading zero byte made OpenSSL refuse the certificate)', () => {
    expect(derSerial('00A1')).toBe('00A1');
    expect(derSerial('0000A1')).toBe('00A1');
    expect(derSerial('0001')).toBe('01');
    expect(derSerial('7F00')).toBe('7F00');
    expect(derSerial('8000')).toBe('008000');
    expect(derSerial('ABC')).toBe('0ABC');
  });

  it('issues certificates OpenSSL accepts for serials that start with zero bytes or a high bit', () => {
    const ca = createCa();
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const spki = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    for (const serial of ['00'.repeat(2) + '1F'.repeat(18), 'FF'.repeat(20), '0A'.repeat(20)]) {
      const cert = new X509Certificate(issueMerchantCertificate(ca, '1900000001', serial, spki));
      expect(cert.serialNumber.replace(/^0+/, '')).toBe(serial.replace(/^0+/, ''));
      expect(cert.verify(new X509Certificate(ca.caCertPem).publicKey)).toBe(true);
    }
    expect(() => new X509Certificate(issueServerCertificate(ca).serverCertPem)).not.toThrow();
  });
});
