/**
 * APIv2 XML: flat `<xml><k>v</k>…</xml>` documents (docs/wechatpay.md, *APIv2*). Parsing refuses DTDs and entity
 * declarations outright (no XXE), nested elements, repeated fields and trailing roots.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';

export class XmlFormatError extends Error {
  override name = 'XmlFormatError';
}

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  processEntities: true, // only the five predefined XML entities; DTDs are rejected before parsing
  htmlEntities: false,
  trimValues: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
});

export function parseV2Xml(text: string): Record<string, string> {
  if (/<!DOCTYPE|<!ENTITY|<!ELEMENT|<!ATTLIST/i.test(text)) throw new XmlFormatError('DTD/entity declarations are not allowed');
  if (text.trim() === '') throw new XmlFormatError('empty body');
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new XmlFormatError(`malformed XML: ${valid.err.msg}`);
  const doc = parser.parse(text) as Record<string, unknown>;
  const roots = Object.keys(doc);
  if (roots.length !== 1 || roots[0] !== 'xml') throw new XmlFormatError('root element must be a single <xml>');
  const root = doc['xml'];
  if (root === '') return {};
  if (typeof root !== 'object' || root === null || Array.isArray(root)) throw new XmlFormatError('bad <xml> root');
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(root as Record<string, unknown>)) {
    if (key === '#text') {
      if (typeof value === 'string' && value.trim() === '') continue;
      throw new XmlFormatError('text directly inside <xml>');
    }
    if (typeof value !== 'string') throw new XmlFormatError(`field <${key}> must be a flat text element, once`);
    out[key] = value;
  }
  return out;
}

function cdata(value: string): string {
  return `<![CDATA[${value.replace(/]]>/g, ']]]]><![CDATA[>')}]]>`;
}

/** Builds `<xml>…</xml>`; numeric values bare, everything else in CDATA (as WeChat does). */
export function buildV2Xml(fields: Record<string, string>): string {
  const parts = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `<${k}>${/^\d+$/.test(v) ? v : cdata(v)}</${k}>`);
  return `<xml>${parts.join('')}</xml>`;
}

/**
 * Whether a merchant's answer to a v2 notification is the success acknowledgement (docs/wechatpay.md, *APIv2*):
 * well-formed `<xml>` with return_code SUCCESS (return_msg optional), nothing else around it.
 */
export function isV2SuccessAck(text: string): boolean {
  try {
    const fields = parseV2Xml(text.trim());
    const keys = Object.keys(fields);
    return fields['return_code'] === 'SUCCESS' && keys.every((k) => k === 'return_code' || k === 'return_msg');
  } catch {
    return false;
  }
}
