/**
 * The sandbox's own little PKI, so APIv2 calls that need mutual TLS (`/secapi/pay/refund`) fail locally exactly as
 * at WeChat without the merchant API certificate: a CA, the TLS server certificate of the sandbox's HTTPS listener
 * (127.0.0.1 / localhost), and each merchant's API certificate ("apiclient_cert.pem") for its own key pair, with the
 * merchant serial as certificate serial and CN = mchid, as WeChat issues them. node-forge (a dev dependency) builds
 * them: node:crypto reads X.509 but cannot issue it.
 */
import { X509Certificate, createPublicKey, generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';

export interface SandboxTls {
  caCertPem: string;
  serverCertPem: string;
  serverKeyPem: string;
}

const YEAR_MS = 365 * 24 * 3600 * 1000;

function baseCertificate(serialHex: string, publicKeyPem: string, subject: forge.pki.CertificateField[], issuer: forge.pki.CertificateField[]) {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  cert.serialNumber = derSerial(serialHex);
  cert.validity.notBefore = new Date(Date.now() - 24 * 3600 * 1000);
  cert.validity.notAfter = new Date(Date.now() + 5 * YEAR_MS);
  cert.setSubject(subject);
  cert.setIssuer(issuer);
  return cert;
}

/** node:crypto makes the keys (forge's JavaScript key generation is ~20× slower); PKCS#1 so forge reads them. */
/**
 * A serial as DER wants it: no leading zero bytes (OpenSSL refuses such a certificate: "illegal padding"), and one
 * zero byte in front when the first byte has its high bit set (else the integer would read as negative). Random
 * serials start with a zero byte one time in 256, and have the high bit set half the time.
 */
export function derSerial(serialHex: string): string {
  let hex = serialHex.length % 2 === 1 ? `0${serialHex}` : serialHex;
  while (hex.length > 2 && hex.startsWith('00')) hex = hex.slice(2);
  return Number.parseInt(hex.slice(0, 1), 16) >= 8 ? `00${hex}` : hex;
}

function keyPairPem(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

const randomSerial = () => forge.util.bytesToHex(forge.random.getBytesSync(16)).toUpperCase();

export interface IssuedCa {
  caCertPem: string;
  caKeyPem: string;
}

export function createCa(): IssuedCa {
  const keys = keyPairPem();
  const name = [
    { name: 'commonName', value: 'WechatPay Sandbox Local CA' },
    { name: 'organizationName', value: 'wechatpay-serverless sandbox' },
  ];
  const cert = baseCertificate(randomSerial(), keys.publicKeyPem, name, name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keys.privateKeyPem), forge.md.sha256.create());
  return { caCertPem: forge.pki.certificateToPem(cert), caKeyPem: keys.privateKeyPem };
}

function issue(ca: IssuedCa, cert: forge.pki.Certificate): string {
  cert.sign(forge.pki.privateKeyFromPem(ca.caKeyPem), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

const caSubject = (ca: IssuedCa) => forge.pki.certificateFromPem(ca.caCertPem).subject.attributes as forge.pki.CertificateField[];

/** The HTTPS listener's certificate: 127.0.0.1, ::1 and localhost. */
export function issueServerCertificate(ca: IssuedCa): { serverCertPem: string; serverKeyPem: string } {
  const keys = keyPairPem();
  const cert = baseCertificate(randomSerial(), keys.publicKeyPem, [{ name: 'commonName', value: 'api.mch.weixin.qq.com (sandbox)' }], caSubject(ca));
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        { type: 2, value: 'localhost' },
        { type: 7, ip: '127.0.0.1' },
        { type: 7, ip: '::1' },
      ],
    },
  ]);
  return { serverCertPem: issue(ca, cert), serverKeyPem: keys.privateKeyPem };
}

/** A merchant API certificate for the merchant's own public key: serial = merchant serial, CN = mchid. */
export function issueMerchantCertificate(ca: IssuedCa, mchid: string, serialNo: string, publicKeyPem: string): string {
  const spki = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'pem' }).toString();
  const cert = baseCertificate(serialNo, spki, [
    { name: 'commonName', value: mchid },
    { name: 'organizationalUnitName', value: 'WeChat Pay merchant (sandbox)' },
  ], caSubject(ca));
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', clientAuth: true },
  ]);
  return issue(ca, cert);
}

/** Serial (upper-case hex, no leading zeros) and SPKI of a presented client certificate, for matching a merchant. */
export function describeClientCertificate(der: Buffer): { serial: string; spkiDer: Buffer } {
  const cert = new X509Certificate(der);
  return { serial: cert.serialNumber.toUpperCase().replace(/^0+/, ''), spkiDer: cert.publicKey.export({ type: 'spki', format: 'der' }) };
}
