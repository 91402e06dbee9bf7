/**
 * What the search index's two FTS5 tokenizers make of a text, computed in
 * JavaScript, exactly: a search that reads the caller's own messages
 * instead of the index (search-plan.ts) must find what the index finds and
 * rank it the same way.
 *
 * - `message_trigrams` (trigram, remove_diacritics 1): every code point is
 *   folded (case, some accents; a fold to 0, such as a combining mark or
 *   NUL, drops it), and the tokens are the folded text's runs of three. A
 *   phrase of 3+ characters is therefore found where its folded text is a
 *   substring of the message's folded text.
 * - `message_words` (unicode61, remove_diacritics 2) over
 *   parley_word_prefixes(content): tokens are runs of letters and digits
 *   (in SQLite's own character tables), folded likewise.
 *
 * How SQLite folds and classifies a character is not guessed (JavaScript's
 * case mappings and Unicode version differ from SQLite's tables for about
 * 13,000 BMP characters): it is asked, once per character, by tokenizing
 * that character with the same tokenizers in a small in-memory database.
 * ASCII, almost all text, needs no asking.
 */
import Database from 'better-sqlite3';
import { spaceOutScripts, wordPrefixes } from '../../text/search-text.js';

/** BM25 constants of FTS5's bm25(). */
const K1 = 1.2;
const B = 0.75;

/** Code points 768–817 that unicode61 keeps inside a token (sqlite3Fts5UnicodeIsdiacritic). */
function isDiacritic(c: number): boolean {
  if (c < 768 || c > 817) return false;
  return c < 768 + 32 ? (0x08029fdf & (1 << (c - 768))) !== 0 : (0x000361f8 & (1 << (c - 768 - 32))) !== 0;
}

const ASCII_NO_NUL = /^[\x01-\x7f]*$/;
const ASCII_WORD = /^[0-9A-Za-z]$/;

/** A phrase of the word index: tokens in a row, the last one a prefix. */
export interface WordPhrase {
  tokens: string[];
  /** The phrase as a MATCH expression of the word index. */
  match: string;
}

/** A query read the way the index reads it; null from compile() when it can match nothing. */
export interface CompiledQuery {
  /** Which FTS5 table answers the MATCH and is ranked: trigrams when there is a term of 3+ characters. */
  drive: 'trigrams' | 'words';
  /** Every term as one MATCH expression of the driving table. */
  match: string;
  /** Folded needles of the terms of 3+ characters. */
  long: string[];
  /** Phrases of the shorter terms. */
  short: WordPhrase[];
}

export class FtsText {
  private readonly db: Database.Database;
  /** Trigram fold of a non-ASCII code point (0: dropped). */
  private readonly tri = new Map<number, number>();
  /** unicode61 of a non-ASCII code point: its fold if it starts a token (a letter, digit or Co), else -1. */
  private readonly uni = new Map<number, number>();
  /** unicode61 fold of the diacritics that continue a token. */
  private readonly dia = new Map<number, number>();
  private readonly insertTri;
  private readonly insertUni;
  private readonly readTri;
  private readonly readUni;

  constructor() {
    this.db = new Database(':memory:');
    this.db.exec(`
      CREATE VIRTUAL TABLE tri USING fts5(c, tokenize='trigram remove_diacritics 1');
      CREATE VIRTUAL TABLE tri_v USING fts5vocab(tri, 'instance');
      CREATE VIRTUAL TABLE uni USING fts5(c, tokenize='unicode61 remove_diacritics 2');
      CREATE VIRTUAL TABLE uni_v USING fts5vocab(uni, 'instance');
    `);
    this.insertTri = this.db.prepare('INSERT INTO tri (rowid, c) VALUES (?, ?)');
    this.insertUni = this.db.prepare('INSERT INTO uni (rowid, c) VALUES (?, ?)');
    this.readTri = this.db.prepare('SELECT doc, term FROM tri_v');
    this.readUni = this.db.prepare('SELECT doc, term FROM uni_v');
    // The diacritics are few: all of them now (rowids above the code points: 'a' + mark, a mark inside a token).
    const marks: number[] = [];
    for (let c = 768; c <= 817; c++) if (isDiacritic(c)) marks.push(c);
    this.db.transaction(() => {
      for (const c of marks) this.insertUni.run(0x200000 + c, `a${String.fromCodePoint(c)}`);
      for (const r of this.readUni.all() as { doc: number; term: string }[]) this.dia.set(r.doc - 0x200000, r.term.codePointAt(1) ?? 0);
      this.db.exec('DELETE FROM uni');
    })();
    for (const c of marks) if (!this.dia.has(c)) this.dia.set(c, 0);
  }

  close(): void {
    this.db.close();
  }

  /** Asks SQLite how its tokenizers treat the non-ASCII code points of `text` it was not asked about yet. */
  private learn(text: string): void {
    const unknown = new Set<number>();
    for (const ch of text) {
      const c = ch.codePointAt(0)!;
      if (c >= 128 && !this.tri.has(c)) unknown.add(c);
    }
    if (unknown.size === 0) return;
    this.db.transaction(() => {
      for (const c of unknown) {
        const ch = String.fromCodePoint(c);
        this.insertTri.run(c, ch + ch + ch);
        this.insertUni.run(c, ch);
      }
      for (const c of unknown) {
        this.tri.set(c, 0);
        this.uni.set(c, -1);
      }
      for (const r of this.readTri.all() as { doc: number; term: string }[]) this.tri.set(r.doc, r.term.codePointAt(0) ?? 0);
      for (const r of this.readUni.all() as { doc: number; term: string }[]) this.uni.set(r.doc, r.term.codePointAt(0) ?? 0);
      this.db.exec('DELETE FROM tri; DELETE FROM uni;');
    })();
  }

  /** The text as the trigram tokenizer sees it: each code point folded, the ones folded to 0 dropped. */
  foldTrigram(text: string): string {
    if (ASCII_NO_NUL.test(text)) return text.toLowerCase();
    let out = '';
    for (const ch of text) {
      const c = ch.codePointAt(0)!;
      if (c < 128) {
        if (c !== 0) out += c >= 65 && c <= 90 ? String.fromCharCode(c + 32) : ch;
        continue;
      }
      let f = this.tri.get(c);
      if (f === undefined) {
        this.learn(text);
        f = this.tri.get(c)!;
      }
      if (f !== 0) out += String.fromCodePoint(f);
    }
    return out;
  }

  /** The unicode61 tokens of a text (remove_diacritics 2). */
  wordTokens(text: string): string[] {
    if (ASCII_NO_NUL.test(text)) {
      // ASCII: letters and digits make tokens, anything else separates.
      return text.toLowerCase().split(/[^0-9a-z]+/).filter((t) => t !== '');
    }
    const tokens: string[] = [];
    let token: string | null = null;
    for (const ch of text) {
      const c = ch.codePointAt(0)!;
      let fold: number;
      if (c < 128) {
        fold = ASCII_WORD.test(ch) ? (c >= 65 && c <= 90 ? c + 32 : c) : -1;
      } else {
        let f = this.uni.get(c);
        if (f === undefined) {
          this.learn(text);
          f = this.uni.get(c)!;
        }
        fold = f;
        if (fold < 0 && token !== null && isDiacritic(c)) fold = this.dia.get(c)!;
      }
      if (fold < 0) {
        if (token !== null) tokens.push(token);
        token = null;
        continue;
      }
      token ??= '';
      if (fold !== 0) token += String.fromCodePoint(fold);
    }
    if (token !== null) tokens.push(token);
    return tokens;
  }

  /** What the word index holds for a message's content. */
  contentWords(content: string): string[] {
    return this.wordTokens(wordPrefixes(content));
  }

  /**
   * Reads query terms as the store has always sent them to FTS5: terms of
   * 3+ characters are phrases of the trigram index; shorter ones with a
   * letter or digit are prefix phrases of the word index (the others are
   * left out). Null when nothing is left, or when a phrase has no token at
   * all (FTS5 then matches nothing).
   */
  compile(terms: readonly string[]): CompiledQuery | null {
    const long: string[] = [];
    const short: WordPhrase[] = [];
    const longMatch: string[] = [];
    const shortMatch: string[] = [];
    let empty = false;
    for (const raw of terms) {
      // As SQLite receives it: UTF-8, a lone surrogate made U+FFFD.
      const term = Buffer.from(raw, 'utf8').toString('utf8');
      if ([...term].length >= 3) {
        longMatch.push(`"${term.replaceAll('"', '""')}"`);
        const needle = this.foldTrigram(term);
        if ([...needle].length < 3) empty = true;
        long.push(needle);
      } else if (/[\p{L}\p{N}]/u.test(term)) {
        const spaced = spaceOutScripts(term).trim();
        const match = `"${spaced.replaceAll('"', '""')}"*`;
        shortMatch.push(match);
        const tokens = this.wordTokens(spaced);
        if (tokens.length === 0) empty = true;
        short.push({ tokens, match });
      }
    }
    if (long.length === 0 && short.length === 0) return null;
    if (empty) return null;
    return long.length > 0
      ? { drive: 'trigrams', match: longMatch.join(' AND '), long, short }
      : { drive: 'words', match: shortMatch.join(' AND '), long, short };
  }
}

/**
 * The trigrams the index holds for a folded needle that can each be looked
 * up alone (distinct, in order): a trigram that folds to itself, so that
 * the index, which folds a query's text again, looks up that very one.
 */
export function lookupTrigrams(text: FtsText, needle: string): string[] {
  const cps = [...needle];
  const out = new Set<string>();
  for (let i = 0; i + 3 <= cps.length; i++) {
    const t = cps.slice(i, i + 3).join('');
    if (text.foldTrigram(t) === t) out.add(t);
  }
  return [...out];
}

/** A MATCH expression for one token of the trigram index. */
export const trigramMatch = (trigram: string): string => `"${trigram.replaceAll('"', '""')}"`;

/** Occurrences of `needle` in `text`, overlapping ones included (the phrase's positions). */
function occurrences(text: string, needle: string): number {
  let n = 0;
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + 1)) n++;
  return n;
}

/** Positions where a word phrase matches a token list (the last token as a prefix). */
function phraseHits(tokens: readonly string[], phrase: WordPhrase): number {
  const q = phrase.tokens;
  const last = q.length - 1;
  let n = 0;
  for (let i = 0; i + last < tokens.length; i++) {
    let ok = true;
    for (let j = 0; j < last && ok; j++) ok = tokens[i + j] === q[j];
    if (ok && tokens[i + last]!.startsWith(q[last]!)) n++;
  }
  return n;
}

const codePointCount = (s: string): number => {
  if (ASCII_NO_NUL.test(s)) return s.length;
  let n = 0;
  for (const _ of s) n++;
  return n;
};

/** How a message stands against a compiled query. */
export interface MessageMatch {
  /** Phrase frequencies of the driving table's phrases, in order. */
  freqs: number[];
  /** The message's size in tokens of the driving table. */
  size: number;
}

/**
 * Whether `content` matches every term of the query (what the FTS5 MATCH of
 * both tables finds), and if so its frequencies for ranking; null otherwise.
 */
export function matchMessage(text: FtsText, q: CompiledQuery, content: string): MessageMatch | null {
  let folded: string | null = null;
  const freqs: number[] = [];
  if (q.long.length > 0) {
    folded = text.foldTrigram(content);
    for (const needle of q.long) {
      const n = occurrences(folded, needle);
      if (n === 0) return null;
      freqs.push(n);
    }
  }
  let words: string[] | null = null;
  if (q.short.length > 0) {
    words = text.contentWords(content);
    for (const phrase of q.short) {
      const n = phraseHits(words, phrase);
      if (q.drive === 'words') freqs.push(n);
      if (n === 0) return null;
    }
  }
  const size = q.drive === 'trigrams' ? Math.max(0, codePointCount(folded!) - 2) : words!.length;
  return { freqs, size };
}

/**
 * FTS5's bm25() for these frequencies, each phrase weighted 1 instead of
 * by its inverse document frequency (which FTS5 computes by reading every
 * posting of the phrase in the whole index, on every query: see
 * decisions.md §20). Lower is better, as bm25().
 */
export function bm25(m: MessageMatch, avgdl: number, idf: readonly number[] | null = null): number {
  let score = 0;
  for (let i = 0; i < m.freqs.length; i++) {
    const f = m.freqs[i]!;
    score += (idf?.[i] ?? 1) * ((f * (K1 + 1.0)) / (f + K1 * (1 - B + (B * m.size) / avgdl)));
  }
  return -1.0 * score;
}

/** A SQLite varint (big-endian, 7 bits a byte, the ninth byte whole). */
function varint(buf: Uint8Array, at: number): [value: number, next: number] {
  let v = 0;
  for (let i = 0; i < 8; i++) {
    const byte = buf[at + i]!;
    v = v * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) return [v, at + i + 1];
  }
  return [v * 256 + buf[at + 8]!, at + 9];
}

/**
 * An FTS5 table's averages record (its `_data` row 1): the row count, then
 * each column's total size in tokens. Gives the rows and the average row
 * size bm25() divides by.
 */
export function parseAverages(block: Uint8Array | undefined): { rows: number; avgdl: number } {
  if (!block || block.length === 0) return { rows: 0, avgdl: 1 };
  const [rows, next] = varint(block, 0);
  const [tokens] = varint(block, next);
  return { rows, avgdl: rows > 0 ? tokens / rows : 1 };
}

/** The average row size of an FTS5 table (`schema.table`). */
export function averageSize(db: Database.Database, table: string): number {
  const row = db.prepare(`SELECT block FROM ${table}_data WHERE id = 1`).get() as { block: Uint8Array } | undefined;
  return parseAverages(row?.block).avgdl;
}
