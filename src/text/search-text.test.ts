import { describe, expect, it } from 'vitest';
import { codePoints, highlights, parseQuery, spaceOutScripts, wordPrefixes } from './search-text.js';

describe('parseQuery', () => {
  it('splits on white space, keeps quoted phrases, drops unpaired quotes and repeats', () => {
    expect(parseQuery('hello  world')).toEqual(['hello', 'world']);
    expect(parseQuery('"foo bar" baz')).toEqual(['foo bar', 'baz']);
    expect(parseQuery('"unbalanced')).toEqual(['unbalanced']);
    expect(parseQuery('a a "a"')).toEqual(['a']);
    expect(parseQuery('   ')).toEqual([]);
    expect(parseQuery('""')).toEqual([]);
    expect(parseQuery("x' OR '1'='1")).toEqual(["x'", 'OR', "'1'='1"]);
    expect(parseQuery('a\u0000b c\u0007')).toEqual(['a', 'b', 'c']);
  });
});

describe('spaceOutScripts', () => {
  it('makes each character of unspaced scripts a word, and leaves others alone', () => {
    expect(spaceOutScripts('東京都に行きます').trim().split(/\s+/)).toEqual(['東', '京', '都', 'に', '行', 'き', 'ま', 'す']);
    expect(spaceOutScripts('hello world')).toBe('hello world');
  });
});

describe('wordPrefixes', () => {
  it('keeps the first two characters of each word; each CJK character is a word', () => {
    expect(wordPrefixes('Going home, café!')).toBe('Go ho ca');
    expect(wordPrefixes('東京都に行きます')).toBe('東 京 都 に 行 き ま す');
    expect(wordPrefixes('e\u0301cole')).toBe('éc');
    expect(wordPrefixes('...')).toBe('');
  });

  it('reads ASCII text (its fast path) as the general rule does', () => {
    // Underscores, dots and control characters separate words; digits are word characters.
    expect(wordPrefixes('x_y-z 12.5 a1b2\tTab\u0000nul')).toBe('x y z 12 5 a1 Ta nu');
    // The same words with one non-ASCII character take the general path: same prefixes.
    expect(wordPrefixes('x_y-z 12.5 a1b2\tTab\u0000nul é')).toBe('x y z 12 5 a1 Ta nu é');
    expect(wordPrefixes('')).toBe('');
  });
});

describe('highlights', () => {
  it('finds every occurrence ignoring case and accents, in code points', () => {
    expect(highlights('Café and CAFE', ['cafe'])).toEqual([
      [0, 4],
      [9, 13],
    ]);
    // astral characters count as one code point
    expect(highlights('😀 hello', ['hello'])).toEqual([[2, 7]]);
    // decomposed accents (e + combining acute) map back to whole code points
    expect(highlights('cafe\u0301!', ['café'])).toEqual([[0, 5]]);
    expect(highlights('東京都に行きます', ['東京'])).toEqual([[0, 2]]);
  });

  it('highlights a short term by its letters, as it matched as a word prefix', () => {
    expect(highlights('see x=1', ['^x'])).toEqual([[4, 5]]);
  });

  it('merges overlapping matches and ignores empty terms', () => {
    expect(highlights('version', ['versio', 'sion'])).toEqual([[0, 7]]);
    expect(highlights('abc', [''])).toEqual([]);
  });

  it('counts code points', () => {
    expect(codePoints('a😀b')).toBe(3);
  });
});
