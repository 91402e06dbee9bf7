import { describe, expect, it } from 'vitest';
import { decodeId, encodeId, type IdKind } from './ids.js';

describe('encodeId / decodeId', () => {
  it('encodes a kind prefix and the base-10 key', () => {
    expect(encodeId('u', 12)).toBe('u12');
    expect(encodeId('c', 7)).toBe('c7');
    expect(encodeId('m', 1042n)).toBe('m1042');
  });

  it('round-trips every kind over small and large keys', () => {
    for (const kind of ['u', 'c', 'm'] as IdKind[]) {
      for (const key of [1, 9, 10, 12345, 2 ** 31, 2 ** 32 + 1, 999_999_999_999_999]) {
        expect(decodeId(kind, encodeId(kind, key)), `${kind}${key}`).toBe(key);
      }
    }
    expect(decodeId('m', encodeId('m', 123_456_789_012n))).toBe(123_456_789_012);
  });

  it('finds nothing for an id of another kind', () => {
    expect(decodeId('c', 'u12')).toBeNull();
    expect(decodeId('u', 'c12')).toBeNull();
    expect(decodeId('u', 'm12')).toBeNull();
    expect(decodeId('u', 'U12')).toBeNull();
  });

  it('rejects junk strings', () => {
    const junk = [
      '', 'u', '12', 'u0', 'u00', 'u012', 'u-1', 'u+1', 'u1.5', 'u1e3', 'u0x1f', 'u 1', 'u1 ', ' u1',
      'u1\n', 'u12a', 'uu1', 'u١٢', 'u1_000', 'u9999999999999999', "u1' OR '1'='1",
    ];
    for (const s of junk) expect(decodeId('u', s), JSON.stringify(s)).toBeNull();
  });

  it('accepts keys up to 15 digits, all of them safe integers', () => {
    expect(decodeId('u', 'u999999999999999')).toBe(999_999_999_999_999);
    expect(Number.isSafeInteger(decodeId('u', 'u999999999999999'))).toBe(true);
    expect(decodeId('u', 'u1000000000000000')).toBeNull();
  });

  it('rejects what is not a string', () => {
    for (const v of [12, 12n, null, undefined, {}, ['u12'], { toString: () => 'u12' }, true]) {
      expect(decodeId('u', v), String(v)).toBeNull();
    }
  });
});
