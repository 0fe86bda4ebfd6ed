import { createDecipheriv, createHash } from 'node:crypto';
import { decodeBase64Strict } from '../base64';
import { WechatPayError } from '../errors';
import { parseXml } from './xml';

/** `req_info` could not be opened with this APIv2 key: not base64, wrong key, tampered, or not the expected XML. */
export class RefundInfoError extends WechatPayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('REFUND_INFO', message, options);
  }
}

/** A req_info is a few hundred bytes; anything far larger is not one. */
const MAX_REQ_INFO_CHARS = 16 * 1024;

/**
 * Opens the `req_info` of an APIv2 refund notification, which carries no sign: base64 → AES-256-ECB (PKCS#7) under
 * the lower-case hex MD5 of the APIv2 key (its 32 ASCII characters are the 32-byte key) → a flat `<root>` XML
 * document. ECB authenticates nothing, so the caller must still bind every field to its own record; what this
 * guarantees is only that the sender knew the APIv2 key (a wrong key fails the padding or the XML almost surely).
 */
export function decryptRefundInfo(reqInfo: string, apiV2Key: string): Record<string, string> {
  if (reqInfo.length > MAX_REQ_INFO_CHARS) throw new RefundInfoError('req_info is too large');
  const ciphertext = decodeBase64Strict(reqInfo);
  if (!ciphertext || ciphertext.length % 16 !== 0) throw new RefundInfoError('req_info is not base64 of whole AES blocks');
  const key = Buffer.from(createHash('md5').update(apiV2Key, 'utf8').digest('hex'), 'latin1');
  let plaintext: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-ecb', key, null);
    plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch (cause) {
    throw new RefundInfoError('req_info does not decrypt under this APIv2 key', { cause });
  }
  try {
    return parseXml(plaintext, { root: 'root' });
  } catch (cause) {
    throw new RefundInfoError('req_info is not the expected <root> document', { cause });
  }
}
