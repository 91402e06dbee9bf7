/**
 * What one emoji is, for reactions (contract v1.1): exactly one extended
 * grapheme cluster (UAX #29, as Intl.Segmenter splits it), holding at least
 * one Extended_Pictographic or Regional_Indicator code point, at most 32
 * bytes of UTF-8. Kept exactly as sent: `❤` and `❤️` are two emoji.
 */
const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
const PICTOGRAPHIC = /[\p{Extended_Pictographic}\u{1F1E6}-\u{1F1FF}]/u;
export const EMOJI_MAX_BYTES = 32;
/** With the u flag, a pair is one code point: only a lone surrogate matches. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

export function isOneEmoji(value: unknown): value is string {
  if (typeof value !== 'string' || value === '') return false;
  if (Buffer.byteLength(value, 'utf8') > EMOJI_MAX_BYTES) return false;
  // A lone surrogate is no emoji (and could not be stored as sent).
  if (LONE_SURROGATE.test(value)) return false;
  let clusters = 0;
  for (const _ of segmenter.segment(value)) if (++clusters > 1) return false;
  return PICTOGRAPHIC.test(value);
}
