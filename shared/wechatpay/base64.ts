/**
 * Strict standard-Base64 decoding.
 *
 * `Buffer.from(s, 'base64')` silently skips characters it does not understand, so a damaged value
 * decodes to *something*. Comparing the decoded length with the length the text implies catches
 * that in O(1), without a regex pass over large ciphertexts.
 */
export function decodeBase64Strict(text: string): Buffer | undefined {
  const length = text.length;
  if (length === 0 || length % 4 !== 0) return undefined;
  // Node's decoder also takes the URL-safe alphabet ('-', '_'), which standard Base64 does not have.
  if (text.includes('-') || text.includes('_')) return undefined;
  const padding = text.charCodeAt(length - 1) === 0x3d ? (text.charCodeAt(length - 2) === 0x3d ? 2 : 1) : 0;
  const decoded = Buffer.from(text, 'base64');
  return decoded.length === (length / 4) * 3 - padding ? decoded : undefined;
}
