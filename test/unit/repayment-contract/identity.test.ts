import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { idCardCheckChar, isValidIdCard, maskName, normalizeIdCard } from '../../../shared/repayment-contract/identity';

describe('display-name mask (seed 000)', () => {
  it.each([
    ['明', '明'],
    ['张三', '*三'],
    ['欧阳娜', '**娜'],
    ['欧阳娜娜', '***娜'],
    ['爱新觉罗溥', '***溥'],
    ['阿依古丽·买买提', '***提'],
    ['Li.G', '***G'],
    ['John Smith', '***h'],
  ])('%s → %s', (name, mask) => {
    expect(maskName(name)).toBe(mask);
  });

  it('keeps the last character and never shows more than it, whatever the name', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }), (name) => {
        const chars = [...name];
        const mask = [...maskName(name)];
        expect(mask.at(-1)).toBe(chars.at(-1));
        expect(mask.slice(0, -1).every((c) => c === '*')).toBe(true);
        expect(mask.length).toBe(Math.min(chars.length, 4));
      }),
    );
  });

  it('counts code points, not UTF-16 units', () => {
    expect(maskName('𠀋𠀋')).toBe('*𠀋');
  });
});

/** 17 digits with a real birth date, completed with their check character. */
const validIdCard = fc
  .record({
    region: fc.integer({ min: 110000, max: 659999 }),
    birth: fc.date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date('2020-12-31T00:00:00Z'), noInvalidDate: true }),
    seq: fc.integer({ min: 0, max: 999 }),
  })
  .map(({ region, birth, seq }) => {
    const date = birth.toISOString().slice(0, 10).replaceAll('-', '');
    const first17 = `${region}${date}${String(seq).padStart(3, '0')}`;
    return first17 + idCardCheckChar(first17);
  });

describe('ID card numbers', () => {
  it('accepts known-good numbers, with X as the check character', () => {
    expect(isValidIdCard('11010519491231002X')).toBe(true);
    expect(isValidIdCard('440524198001010013')).toBe(true);
    expect(isValidIdCard('440524188001010014')).toBe(false); // checksum fine, but born before 1900
    expect(isValidIdCard('110101199003070134')).toBe(true);
    expect(isValidIdCard('110101199003070135')).toBe(false); // wrong check digit
  });

  it('accepts every 18-character number built with the MOD 11-2 check character', () => {
    fc.assert(
      fc.property(validIdCard, (id) => {
        expect(isValidIdCard(id)).toBe(true);
      }),
    );
  });

  it('refuses any other check character', () => {
    fc.assert(
      fc.property(validIdCard, fc.constantFrom(...'0123456789X'), (id, check) => {
        fc.pre(check !== id[17]);
        expect(isValidIdCard(id.slice(0, 17) + check)).toBe(false);
      }),
    );
  });

  it('refuses a single changed digit (the checksum catches it)', () => {
    fc.assert(
      fc.property(validIdCard, fc.integer({ min: 0, max: 16 }), fc.integer({ min: 1, max: 9 }), (id, at, delta) => {
        const digit = (Number(id[at]) + delta) % 10;
        const changed = id.slice(0, at) + digit + id.slice(at + 1);
        expect(isValidIdCard(changed)).toBe(false);
      }),
    );
  });

  it('refuses impossible birth dates even with a matching check character', () => {
    for (const date of ['19490230', '19491301', '18991231', '19490000']) {
      const first17 = `110105${date}002`;
      expect(isValidIdCard(first17 + idCardCheckChar(first17))).toBe(false);
    }
  });

  it('accepts 15 digits (first generation) and refuses other shapes', () => {
    expect(isValidIdCard('110105491231002')).toBe(true);
    for (const bad of ['', '11010549123100', '1101054912310021', '11010519491231002x', '1101051949123100XX', '11010519491231002Ｘ', ' 11010519491231002X']) {
      expect(isValidIdCard(bad)).toBe(false);
    }
  });

  it('normalises a lower-case x, which then validates', () => {
    expect(normalizeIdCard('11010519491231002x')).toBe('11010519491231002X');
    expect(isValidIdCard(normalizeIdCard('11010519491231002x'))).toBe(true);
  });
});
