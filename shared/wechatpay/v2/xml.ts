import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { XmlShapeError, XmlTooLargeError, XmlUnsafeError } from '../errors';
import type { V2Params, V2ParamsLike } from './sign';

/*
 * APIv2 speaks one flat XML shape: `<xml><name>text</name>…</xml>`. Anything richer is either a bug
 * or an attack, so the parser accepts exactly that shape and nothing else.
 */

export const DEFAULT_MAX_XML_BYTES = 64 * 1024;

const ELEMENT_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

function cdata(value: string): string {
  // ']]>' cannot appear inside a CDATA section: end the section after ']]' and start a new one
  // for '>', which parsers join back into the original text.
  return `<![CDATA[${value.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`;
}

/** `<xml><k><![CDATA[v]]></k>…</xml>`; `undefined`/`null` are skipped, numbers and booleans written as text. */
export function buildXml<P extends V2ParamsLike<P>>(input: P): string {
  const params = input as V2Params;
  let xml = '<xml>';
  for (const name of Object.keys(params)) {
    const value = params[name];
    if (value === undefined || value === null) continue;
    if (!ELEMENT_NAME.test(name)) throw new XmlShapeError(`${JSON.stringify(name)} is not a usable element name`);
    xml += typeof value === 'string' ? `<${name}>${cdata(value)}</${name}>` : `<${name}>${String(value)}</${name}>`;
  }
  return `${xml}</xml>`;
}

export interface ParseXmlOptions {
  /** Inputs above this many bytes are refused before they are decoded. */
  maxBytes?: number;
  /** The root element's name: `xml` for every APIv2 document, `root` inside a refund notification's `req_info`. */
  root?: string;
}

// preserveOrder keeps text and CDATA pieces apart (so only text is trimmed) and shows repeated
// names instead of folding them into arrays. Entities are left alone here: a DOCTYPE can never reach
// the parser, and the five predefined entities plus character references are decoded below.
//
// Built on first use, not at import: a module-level `new` is a side effect that keeps the parser in every
// bundle that imports this package, including the v3-only functions.
let parser: XMLParser | undefined;
const parserOptions = {
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: false,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  trimValues: false,
  cdataPropName: '#cdata',
} as const;

let utf8: InstanceType<typeof TextDecoder> | undefined;

function checkSize(input: string | Uint8Array, maxBytes: number): void {
  if (typeof input !== 'string') {
    if (input.byteLength > maxBytes) throw new XmlTooLargeError(input.byteLength, maxBytes);
    return;
  }
  // A UTF-16 unit is at most 3 UTF-8 bytes, so short strings need no byte count.
  if (input.length * 3 <= maxBytes) return;
  const bytes = Buffer.byteLength(input, 'utf8');
  if (bytes > maxBytes) throw new XmlTooLargeError(bytes, maxBytes);
}

/**
 * Refuses any markup declaration (`<!DOCTYPE`, `<!ENTITY`, `<!ELEMENT`, `<!ATTLIST`, …): the XXE and
 * entity-expansion vectors. CDATA sections and comments are skipped, so a value that merely
 * *contains* such text inside CDATA is still accepted.
 */
function rejectDeclarations(xml: string): void {
  let at = xml.indexOf('<!');
  while (at !== -1) {
    let end: number;
    if (xml.startsWith('<![CDATA[', at)) {
      end = xml.indexOf(']]>', at + 9);
    } else if (xml.startsWith('<!--', at)) {
      end = xml.indexOf('-->', at + 4);
    } else {
      const declaration = /^<!([A-Za-z]*)/.exec(xml.slice(at, at + 12))?.[1] ?? '';
      throw new XmlUnsafeError(`XML declarations are not allowed (found <!${declaration.toUpperCase()})`);
    }
    // Unterminated sections are left to the validator to report.
    if (end === -1) return;
    at = xml.indexOf('<!', end);
  }
}

const ENTITY = /&(?:#x([0-9A-Fa-f]{1,6})|#([0-9]{1,7})|(lt|gt|amp|quot|apos));/g;
// An '&' that starts none of the above is an undeclared entity (or a bare '&'): not well-formed.
const STRAY_AMPERSAND = /&(?!(?:#x[0-9A-Fa-f]{1,6}|#[0-9]{1,7}|lt|gt|amp|quot|apos);)/;
const PREDEFINED: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  if (STRAY_AMPERSAND.test(text)) throw new XmlShapeError('undeclared entity reference or bare "&" in text');
  return text.replace(ENTITY, (match, hex: string | undefined, dec: string | undefined, name: string | undefined) => {
    if (name !== undefined) return PREDEFINED[name] ?? match;
    const codePoint = hex !== undefined ? Number.parseInt(hex, 16) : Number(dec);
    if (codePoint === 0 || codePoint > 0x10ffff || (codePoint >= 0xd800 && codePoint <= 0xdfff)) {
      throw new XmlShapeError(`invalid character reference ${match}`);
    }
    return String.fromCodePoint(codePoint);
  });
}

type OrderedNode = Record<string, unknown>;

function isWhitespace(text: string): boolean {
  return text.trim() === '';
}

/** Text of one flat element: text pieces (entity-decoded) and CDATA pieces (verbatim), outer whitespace trimmed. */
function elementText(name: string, children: unknown): string {
  if (!Array.isArray(children)) throw new XmlShapeError(`element <${name}> could not be read`);
  const pieces: { text: string; cdata: boolean }[] = [];
  for (const child of children as OrderedNode[]) {
    if (typeof child['#text'] === 'string') {
      pieces.push({ text: decodeEntities(child['#text']), cdata: false });
    } else if (Array.isArray(child['#cdata'])) {
      let text = '';
      for (const part of child['#cdata'] as OrderedNode[]) {
        if (typeof part['#text'] === 'string') text += part['#text'];
      }
      pieces.push({ text, cdata: true });
    } else {
      throw new XmlShapeError(`element <${name}> has nested elements; only flat text is allowed`);
    }
  }
  const first = pieces[0];
  const last = pieces[pieces.length - 1];
  if (first !== undefined && !first.cdata) first.text = first.text.trimStart();
  if (last !== undefined && !last.cdata) last.text = last.text.trimEnd();
  let text = '';
  for (const piece of pieces) text += piece.text;
  return text;
}

/**
 * Parses an APIv2 document into flat string params. Size is checked before decoding; declarations
 * before parsing. The root must be `<xml>` with only flat text children (text or CDATA), no
 * attributes, no repeated names. Values are never converted to numbers.
 */
export function parseXml(input: string | Uint8Array, options: ParseXmlOptions = {}): Record<string, string> {
  checkSize(input, options.maxBytes ?? DEFAULT_MAX_XML_BYTES);
  let xml: string;
  if (typeof input === 'string') {
    xml = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  } else {
    try {
      xml = (utf8 ??= new TextDecoder('utf-8', { fatal: true })).decode(input);
    } catch (cause) {
      throw new XmlShapeError('XML is not valid UTF-8', { cause });
    }
  }
  rejectDeclarations(xml);

  const validation = XMLValidator.validate(xml);
  if (validation !== true) throw new XmlShapeError(`malformed XML: ${validation.err.msg}`);

  let document: OrderedNode[];
  try {
    document = (parser ??= new XMLParser(parserOptions)).parse(xml) as OrderedNode[];
  } catch (cause) {
    // e.g. fast-xml-parser's refusal of names such as __proto__ or constructor.
    throw new XmlShapeError('XML could not be parsed', { cause });
  }
  const rootName = options.root ?? 'xml';
  const root = document[0];
  if (document.length !== 1 || root === undefined || !Array.isArray(root[rootName])) {
    throw new XmlShapeError(`root element must be <${rootName}>`);
  }
  if (root[':@'] !== undefined) throw new XmlShapeError('attributes are not allowed');

  const params: Record<string, string> = {};
  const seen = new Set<string>();
  for (const node of root[rootName] as OrderedNode[]) {
    if (typeof node['#text'] === 'string') {
      if (isWhitespace(node['#text'])) continue;
      throw new XmlShapeError(`text directly inside <${rootName}> is not allowed`);
    }
    if (node['#cdata'] !== undefined) throw new XmlShapeError(`CDATA directly inside <${rootName}> is not allowed`);
    if (node[':@'] !== undefined) throw new XmlShapeError('attributes are not allowed');
    const names = Object.keys(node);
    const name = names[0];
    if (names.length !== 1 || name === undefined) throw new XmlShapeError('unexpected XML node');
    if (seen.has(name)) throw new XmlShapeError(`element <${name}> is repeated`);
    seen.add(name);
    params[name] = elementText(name, node[name]);
  }
  return params;
}
