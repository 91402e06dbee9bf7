/**
 * Text rules of search, shared by the store (what it indexes) and the domain
 * (how a query is read and where its matches are highlighted). Imports nothing.
 */

/** Scripts written without spaces between words: each character is a word of its own. */
const UNSPACED = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/gu;
const HAS_UNSPACED = new RegExp(UNSPACED.source, 'u');

/** Puts spaces around every character of an unspaced script, so a word index sees each as a token. */
export function spaceOutScripts(text: string): string {
  return text.replace(UNSPACED, ' $& ');
}

export const hasUnspacedScript = (text: string): boolean => HAS_UNSPACED.test(text);

/** A word (letters and digits, each with its combining marks); group 1: its first two characters. */
const WORD_AND_PREFIX = /((?:[\p{L}\p{N}]\p{M}*){1,2})(?:[\p{L}\p{N}]\p{M}*)*/gu;
const ASCII = /^[\x00-\x7f]*$/;
/** The same for ASCII, where letters and digits are [A-Za-z0-9] and there are no combining marks. */
const ASCII_WORD_AND_PREFIX = /([A-Za-z0-9]{1,2})[A-Za-z0-9]*/g;

/**
 * What the word index holds of a text: the first two characters of each word
 * (each character of an unspaced script being a word). Enough to find words
 * by a one- or two-character prefix and two-character CJK words as phrases
 * (longer terms use the trigram index), and it keeps no whole word in the
 * index: what a deletion leaves behind in the index's pages reveals nothing.
 */
export function wordPrefixes(text: string): string {
  // One pass: each match is a whole word, its group the first two characters.
  // ASCII text (most of it) needs no normalising and has no unspaced script.
  const [source, words] = ASCII.test(text) ? [text, ASCII_WORD_AND_PREFIX] : [spaceOutScripts(text.normalize('NFC')), WORD_AND_PREFIX];
  let out = '';
  for (const m of source.matchAll(words)) out += out ? ` ${m[1]}` : m[1];
  return out;
}

/**
 * What search matches a message by: its content, then the name of each of
 * its attachments on a line of its own. No term holds a line break, so none
 * matches across the end of one and the start of the next.
 */
export function searchableText(content: string, names: readonly string[]): string {
  return names.length === 0 ? content : `${content}\n${names.join('\n')}`;
}

/** Case and accents folded (decomposed, combining marks dropped, lower case): what substring search compares. */
export function foldText(text: string): string {
  // (Final sigma folds like sigma, as a case fold does: whole-string lower-casing would keep it apart.)
  return ASCII.test(text) ? text.toLowerCase() : text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().replaceAll('ς', 'σ');
}

/**
 * The word-prefix tokens of an already folded text: the first character and
 * the first two characters of each word (wordPrefixes), once each. A term of
 * one or two characters matches a text holding its own tokens.
 */
export function wordTokens(folded: string): string[] {
  const out = new Set<string>();
  for (const p of wordPrefixes(folded).split(' ')) {
    if (!p) continue;
    const first = String.fromCodePoint(p.codePointAt(0) as number);
    out.add(first);
    out.add(p);
  }
  return [...out];
}

/**
 * A search query read as terms: `"quoted words"` are one term (a phrase,
 * spaces included); everything else splits on white space. Quotes that do not
 * pair are dropped. Any text is a valid query; it may have no terms.
 */
export function parseQuery(q: string): string[] {
  const terms: string[] = [];
  // Control characters (NUL...) separate terms like white space.
  const text = q.replace(/\p{Cc}/gu, ' ');
  for (const m of text.matchAll(/"([^"]*)"|([^\s"]+)/gu)) {
    const term = (m[1] ?? m[2] ?? '').trim().replace(/\s+/gu, ' ');
    if (term) terms.push(term);
  }
  return [...new Set(terms)];
}

/**
 * What to highlight for a term: a term of 3+ characters as it is (it matched
 * as a substring); a shorter one by its letters and digits (it matched as a
 * word prefix, whatever punctuation was around it).
 */
export function highlightNeedle(term: string): string {
  return [...term].length >= 3 ? term : (term.match(/[\p{L}\p{N}]\p{M}*/gu) ?? []).join('');
}

/** Case and accents folded, one folded string per code point of the input. */
function foldEach(text: string): string[] {
  return Array.from(text, (ch) =>
    ch
      .normalize('NFD')
      .replace(/\p{M}/gu, '')
      .toLowerCase(),
  );
}

/**
 * Where the terms occur in `content`, ignoring case and accents: sorted,
 * merged [start, end) ranges in code points.
 */
export function highlights(content: string, terms: readonly string[]): [number, number][] {
  const folded = foldEach(content);
  // folded text, with the code point each of its UTF-16 units came from
  let text = '';
  const origin: number[] = [];
  folded.forEach((f, i) => {
    text += f;
    for (let k = 0; k < f.length; k++) origin.push(i);
  });
  const ranges: [number, number][] = [];
  for (const term of terms) {
    const needle = foldEach(highlightNeedle(term)).join('');
    if (!needle) continue;
    for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + 1)) {
      const start = origin[at] as number;
      let end = (origin[at + needle.length - 1] as number) + 1;
      // combining marks that folded away belong to the character before them
      while (end < folded.length && folded[end] === '') end++;
      ranges.push([start, end]);
    }
  }
  ranges.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  const merged: [number, number][] = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  return merged;
}

/** Code points in a string. */
export const codePoints = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};
