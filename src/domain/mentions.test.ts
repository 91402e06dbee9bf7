import { describe, expect, it } from 'vitest';
import { findMentions, mentionCandidates } from './mentions.js';
import { isOneEmoji } from './emoji.js';

describe('mentionCandidates', () => {
  it("follows the contract's examples", () => {
    for (const text of ['@Bob,', '@bob.', '(@bob)', 'hi @BOB', '@bob']) expect(mentionCandidates(text), text).toContain('bob');
    for (const text of ['@bobby', '@bob.smith', '@bob-2', 'mail@bob', '@@bob', 'x.@bob', '_@bob']) expect(mentionCandidates(text), text).not.toContain('bob');
    expect(mentionCandidates('@bob.smith')).toContain('bob.smith');
  });

  it('gives every name one @ could mean, each once, in order of first mention', () => {
    expect(mentionCandidates('@bob. and @ann, @bob')).toEqual(['bob', 'bob.', 'ann']);
    expect(mentionCandidates('@bob-')).toEqual(['bob', 'bob-']);
    expect(mentionCandidates('no mention @ab @')).toEqual([]);
  });

  it('stops at the longest username', () => {
    const long = 'a'.repeat(40);
    expect(mentionCandidates(`@${long}`)).toEqual([]);
    expect(mentionCandidates(`@${'a'.repeat(32)} x`)).toEqual(['a'.repeat(32)]);
  });
});

describe('isOneEmoji', () => {
  it("follows the contract's examples", () => {
    for (const e of ['👍', '👍🏽', '❤️', '❤', '🇫🇷', '👨‍👩‍👧‍👦']) expect(isOneEmoji(e), e).toBe(true);
    for (const e of ['a', ':+1:', '👍👍', '🇫🇷🇩🇪', ' 👍', '', 1, null, '👨‍👩‍👧‍👦'.repeat(2), '\ud83d']) expect(isOneEmoji(e), String(e)).toBe(false);
    // a ZWJ sequence over 32 bytes
    const long = ['👨', '👩', '👧', '👦', '👨', '👩'].join('\u200d');
    expect(Buffer.byteLength(long)).toBeGreaterThan(32);
    expect(isOneEmoji(long)).toBe(false);
  });
});

describe('findMentions (what clients highlight)', () => {
  it('finds, after each @, the longest member name the rule allows, with its offsets', () => {
    const names = new Map([
      ['bob', 'u1'],
      ['bob.smith', 'u2'],
      ['ann', 'u3'],
    ]);
    const text = 'hi @Bob, @bob.smith and (@ann) but not mail@ann or @bobby';
    expect(findMentions(text, names)).toEqual([
      { start: 3, end: 7, userId: 'u1' },
      { start: 9, end: 19, userId: 'u2' },
      { start: 25, end: 29, userId: 'u3' },
    ]);
    expect(findMentions(text, new Map())).toEqual([]);
  });
});
