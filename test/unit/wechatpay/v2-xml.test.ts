import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  XmlError,
  XmlShapeError,
  XmlTooLargeError,
  XmlUnsafeError,
  buildXml,
  parseXml,
} from '../../../shared/wechatpay/index';
import { peer } from './support';

const CONTRACT_NOTIFY = `<xml>
  <return_code><![CDATA[SUCCESS]]></return_code>
  <result_code><![CDATA[SUCCESS]]></result_code>
  <sign><![CDATA[C380BEC2BFD727A4B6845133519F3AD6]]></sign>
  <mch_id>10010404</mch_id>
  <contract_code>100001256</contract_code>
  <openid><![CDATA[onqOjjmM1tad-3ROpncN-yUfa6ua]]></openid>
  <plan_id><![CDATA[123]]></plan_id>
  <change_type><![CDATA[ADD]]></change_type>
  <operate_time><![CDATA[2015-07-01 10:00:00]]></operate_time>
  <contract_id><![CDATA[Wx15463511252015071056489715]]></contract_id>
  <contract_expired_time><![CDATA[2019-07-01 10:00:00]]></contract_expired_time>
  <request_serial>1695</request_serial>
</xml>`;

function failure(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('buildXml', () => {
  it('wraps strings in CDATA, writes numbers as text and skips undefined/null', () => {
    expect(buildXml({ appid: 'wx1', total_fee: 100, attach: undefined, detail: null, empty: '' })).toBe(
      '<xml><appid><![CDATA[wx1]]></appid><total_fee>100</total_fee><empty><![CDATA[]]></empty></xml>',
    );
  });

  it('splits "]]>" across CDATA sections', () => {
    expect(buildXml({ a: 'x]]>y' })).toBe('<xml><a><![CDATA[x]]]]><![CDATA[>y]]></a></xml>');
  });

  it('refuses names that are not XML element names', () => {
    expect(() => buildXml({ 'a b': '1' })).toThrow(XmlShapeError);
    expect(() => buildXml({ '<x>': '1' })).toThrow(XmlShapeError);
  });
});

describe('parseXml', () => {
  it('parses the official contract notification sample; numbers stay strings', () => {
    const params = parseXml(CONTRACT_NOTIFY);
    expect(params).toEqual({
      return_code: 'SUCCESS',
      result_code: 'SUCCESS',
      sign: 'C380BEC2BFD727A4B6845133519F3AD6',
      mch_id: '10010404',
      contract_code: '100001256',
      openid: 'onqOjjmM1tad-3ROpncN-yUfa6ua',
      plan_id: '123',
      change_type: 'ADD',
      operate_time: '2015-07-01 10:00:00',
      contract_id: 'Wx15463511252015071056489715',
      contract_expired_time: '2019-07-01 10:00:00',
      request_serial: '1695',
    });
  });

  it('keeps leading zeros and long digit strings exactly', () => {
    expect(parseXml('<xml><a>007</a><b>12345678901234567890</b><c>1e3</c></xml>')).toEqual({ a: '007', b: '12345678901234567890', c: '1e3' });
  });

  it('trims whitespace outside CDATA only', () => {
    expect(parseXml('<xml><a>  x  </a><b> <![CDATA[  y  ]]> </b><c>\n</c></xml>')).toEqual({ a: 'x', b: '  y  ', c: '' });
  });

  it('decodes the predefined entities and character references in text, not in CDATA', () => {
    expect(parseXml('<xml><a>&lt;b&gt; &amp; &quot;&apos; &#x4E2D;&#25991;</a><b><![CDATA[&lt;]]></b></xml>')).toEqual({
      a: `<b> & "' 中文`,
      b: '&lt;',
    });
  });

  it('accepts an XML declaration, comments, a BOM and bytes', () => {
    const xml = '\uFEFF<?xml version="1.0" encoding="UTF-8"?>\n<xml><!-- c --><a>1</a></xml>\n';
    expect(parseXml(xml)).toEqual({ a: '1' });
    expect(parseXml(Buffer.from(xml, 'utf8'))).toEqual({ a: '1' });
    expect(parseXml(new Uint8Array(Buffer.from('<xml><a>中</a></xml>')))).toEqual({ a: '中' });
  });

  it('round-trips "]]>", unicode, markup characters and empty values', () => {
    const params = { a: 'x]]>y', b: ']]>]]>', c: '中文 🙂 é', d: '<b>&amp;</b>', e: '', f: ' spaced ', g: '0' };
    expect(parseXml(buildXml(params))).toEqual(params);
  });

  it('round-trips arbitrary strings (property)', () => {
    const name = fc.stringMatching(/^[a-z_][a-z0-9_]{0,15}$/).filter((n) => !['constructor', '__proto__', 'hasownproperty'].includes(n.toLowerCase()));
    // XML 1.0 cannot carry most C0 controls or lone surrogates at all.
    const value = fc.string({ unit: 'grapheme', maxLength: 40 }).filter((v) => !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\r\ufffe\uffff]/.test(v));
    fc.assert(
      fc.property(fc.dictionary(name, value, { maxKeys: 10 }), (params) => {
        expect(parseXml(buildXml(params))).toEqual(params);
      }),
      { numRuns: 300 },
    );
  });

  it('reads what the peer library builds, and the peer reads what we build', () => {
    const params = { appid: 'wx1', mch_id: '10000100', body: 'a & b <c>', total_fee: '1' };
    expect(parseXml(peer.Transformer.toXml(params))).toEqual(params);
    expect(peer.Transformer.toObject(buildXml(params))).toEqual(params);
  });

  describe('safety', () => {
    it('rejects a DOCTYPE', () => {
      expect(() => parseXml('<!DOCTYPE xml><xml><a>1</a></xml>')).toThrow(XmlUnsafeError);
      expect(() => parseXml('<?xml version="1.0"?><!doctype xml><xml/>')).toThrow(XmlUnsafeError);
    });

    it('rejects XXE (external entity to file:///etc/passwd)', () => {
      const xxe = '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><a>&xxe;</a></xml>';
      const error = failure(() => parseXml(xxe));
      expect(error).toBeInstanceOf(XmlUnsafeError);
      expect(error).toBeInstanceOf(XmlError);
    });

    it('rejects billion laughs before any expansion', () => {
      const lol = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">${Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`).join('')}]><xml><a>&lol9;</a></xml>`;
      const started = performance.now();
      expect(() => parseXml(lol)).toThrow(XmlUnsafeError);
      expect(performance.now() - started).toBeLessThan(50);
    });

    it('rejects bare ENTITY / ELEMENT / ATTLIST declarations', () => {
      for (const declaration of ['<!ENTITY e "v">', '<!ELEMENT xml ANY>', '<!ATTLIST xml a CDATA #IMPLIED>']) {
        expect(() => parseXml(`${declaration}<xml><a>1</a></xml>`)).toThrow(XmlUnsafeError);
        expect(() => parseXml(`<xml>${declaration}<a>1</a></xml>`)).toThrow(XmlUnsafeError);
      }
    });

    it('allows such text inside CDATA, where it is just data', () => {
      expect(parseXml('<xml><a><![CDATA[<!DOCTYPE x>]]></a></xml>')).toEqual({ a: '<!DOCTYPE x>' });
    });

    it('rejects undeclared entities and bare ampersands', () => {
      expect(() => parseXml('<xml><a>&xxe;</a></xml>')).toThrow(XmlShapeError);
      expect(() => parseXml('<xml><a>a & b</a></xml>')).toThrow(XmlShapeError);
      expect(() => parseXml('<xml><a>&#0;</a></xml>')).toThrow(XmlShapeError);
    });

    it('rejects oversized input before decoding', () => {
      const big = `<xml><a>${'x'.repeat(64 * 1024)}</a></xml>`;
      expect(() => parseXml(big)).toThrow(XmlTooLargeError);
      const bytes = Buffer.alloc(64 * 1024 + 1, 0xff); // not even UTF-8: must fail on size first
      const error = failure(() => parseXml(bytes));
      expect(error).toBeInstanceOf(XmlTooLargeError);
      expect((error as XmlTooLargeError).byteLength).toBe(64 * 1024 + 1);
      expect(() => parseXml('<xml><a>12345</a></xml>', { maxBytes: 10 })).toThrow(XmlTooLargeError);
      // counted in bytes, not characters
      expect(() => parseXml(`<xml><a>${'中'.repeat(10)}</a></xml>`, { maxBytes: 40 })).toThrow(XmlTooLargeError);
    });

    it('rejects invalid UTF-8', () => {
      expect(() => parseXml(Buffer.from([0x3c, 0x78, 0x6d, 0x6c, 0x3e, 0xff, 0x3c, 0x2f, 0x78, 0x6d, 0x6c, 0x3e]))).toThrow(XmlShapeError);
    });
  });

  describe('shape', () => {
    const cases: [string, string][] = [
      ['nested elements', '<xml><a><b>1</b></a></xml>'],
      ['repeated names', '<xml><a>1</a><a>2</a></xml>'],
      ['a root other than xml', '<root><a>1</a></root>'],
      ['XML with a different case', '<XML><a>1</a></XML>'],
      ['two roots', '<xml><a>1</a></xml><xml></xml>'],
      ['an unclosed root', '<xml><a>1</a>'],
      ['mismatched tags', '<xml><a>1</b></xml>'],
      ['attributes on children', '<xml><a x="1">1</a></xml>'],
      ['attributes on the root', '<xml version="2"><a>1</a></xml>'],
      ['text directly in the root', '<xml>stray<a>1</a></xml>'],
      ['not XML at all', 'return_code=SUCCESS'],
      ['JSON', '{"return_code":"SUCCESS"}'],
      ['an empty string', ''],
      ['prototype-polluting names', '<xml><__proto__>1</__proto__></xml>'],
      ['constructor', '<xml><constructor>1</constructor></xml>'],
    ];
    it.each(cases)('rejects %s', (_label, xml) => {
      expect(() => parseXml(xml)).toThrow(XmlShapeError);
    });

    it('accepts an empty <xml/> and empty elements', () => {
      expect(parseXml('<xml/>')).toEqual({});
      expect(parseXml('<xml><a/><b></b></xml>')).toEqual({ a: '', b: '' });
    });
  });
});
