/**
 * The search that reads the caller's own messages instead of the index
 * (search-plan.ts) must find exactly what the index finds, and rank it the
 * same way. Checked here against FTS5 itself: the index's real schema, a
 * corpus of awkward text (accents precomposed and combining, characters
 * whose case JavaScript and SQLite fold differently, CJK, emoji, NUL,
 * U+FFFE...), and queries cut from it and varied.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { averageSize, bm25, FtsText, lookupTrigrams, matchMessage, trigramMatch } from '../../src/store/sqlite/fts-text.js';
import { rng } from '../../bench/lib.js';
import { openSearchDatabase } from '../../src/store/sqlite/search-index.js';
import { parseQuery, spaceOutScripts, wordPrefixes } from '../../src/text/search-text.js';

const ALPHABET = [
  ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
  ...'     .,:/-_"\'*()%',
  ...'éÉèàÀçÇñÑüÜöÖßøØæÆåÅıİſµ',
  ...'ǡǠǼǽȧḀḁẞ', // Latin extended: folded differently by JavaScript and SQLite
  '\u0301', '\u0308', '\u0323', '\u0305', '\u0327', '\u05b4', '\u093e', '\u200d', '\u0000', '\ufffe', '\uffff',
  ...'ΣσςΆάΩω', ...'ЖжЁё', ...'東京都に行きます大阪会議', ...'カタカナｶﾀ한국어ไทย', ...'ＡＢａｂ',
  'कि', 'עִ', '🙂', '👩‍👩‍👧', '🇯🇵', '𐐀', '𐐨', '𝐀', '𠀋',
];

let dir: string;
let db: Database.Database;
let text: FtsText;
const corpus: string[] = [];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-fts-text-'));
  // The index's own schema (tokenizers and options), as search-index.ts makes it.
  db = openSearchDatabase(path.join(dir, 'index.db'), { maxMessageId: 0, maxOutboxId: 0, prunedThrough: 0 });
  const random = rng(17);
  const pick = () => ALPHABET[Math.floor(random() * ALPHABET.length)]!;
  // Mostly words of the alphabet, some with the same word repeated (frequencies > 1).
  const words = Array.from({ length: 300 }, () => Array.from({ length: 1 + Math.floor(random() * 6) }, pick).join(''));
  for (let i = 0; i < 1500; i++) {
    const n = 1 + Math.floor(random() * 12);
    corpus.push(Array.from({ length: n }, () => (random() < 0.7 ? words[Math.floor(random() * words.length)]! : pick())).join(random() < 0.8 ? ' ' : ''));
  }
  corpus.push('', 'a', 'ab', 'the version is 3', 'Café au lait', 'Cafe\u0301 noir', '東京都に行きます', 'kiwi kiwi kiwi', 'nul\u0000inside');
  const tri = db.prepare('INSERT INTO message_trigrams (rowid, content) VALUES (?, ?)');
  const words2 = db.prepare('INSERT INTO message_words (rowid, content) VALUES (?, ?)');
  db.transaction(() =>
    corpus.forEach((c, i) => {
      tri.run(i + 1, c);
      words2.run(i + 1, wordPrefixes(c));
    }),
  )();
  text = new FtsText();
});

afterAll(() => {
  text?.close();
  db?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The MATCH expressions the store has always sent for these terms (both tables). */
function matchStrings(terms: string[]): { long: string; short: string } {
  const long: string[] = [];
  const short: string[] = [];
  for (const t of terms) {
    if ([...t].length >= 3) long.push(`"${t.replaceAll('"', '""')}"`);
    else if (/[\p{L}\p{N}]/u.test(t)) short.push(`"${spaceOutScripts(t).trim().replaceAll('"', '""')}"*`);
  }
  return { long: long.join(' AND '), short: short.join(' AND ') };
}

/** What FTS5 finds for the terms, as the store's index search asks it. */
function ftsIds(terms: string[]): number[] {
  const m = matchStrings(terms);
  const ids = (sql: string, match: string) => new Set(db.prepare(sql).pluck().all(match) as number[]);
  let found: Set<number> | null = null;
  if (m.long) found = ids('SELECT rowid FROM message_trigrams WHERE message_trigrams MATCH ?', m.long);
  if (m.short) {
    const w = ids('SELECT rowid FROM message_words WHERE message_words MATCH ?', m.short);
    found = found ? new Set([...found].filter((id) => w.has(id))) : w;
  }
  return [...(found ?? [])].sort((a, b) => a - b);
}

function jsIds(terms: string[]): number[] {
  const q = text.compile(terms);
  if (!q) return [];
  const out: number[] = [];
  corpus.forEach((c, i) => {
    if (matchMessage(text, q, c)) out.push(i + 1);
  });
  return out;
}

/** Queries: pieces of the corpus (1-8 code points), case and accents varied, and pairs of them. */
function queries(n: number, seed: number): string[][] {
  const random = rng(seed);
  const vary = (s: string) =>
    [...s]
      .map((ch) => {
        const r = random();
        if (r < 0.2) return ch.toUpperCase();
        if (r < 0.3) return ch.normalize('NFD');
        if (r < 0.35) return ch.toLowerCase();
        return ch;
      })
      .join('');
  const piece = () => {
    const cps = [...corpus[Math.floor(random() * corpus.length)]!];
    const len = 1 + Math.floor(random() * 8);
    const at = Math.floor(random() * Math.max(1, cps.length - len + 1));
    return vary(cps.slice(at, at + len).join(''));
  };
  const out: string[][] = [];
  for (let i = 0; i < n; i++) {
    const terms = parseQuery(random() < 0.3 ? `${piece()} ${piece()}` : random() < 0.5 ? `"${piece()}"` : piece());
    if (terms.length) out.push(terms);
  }
  return out;
}

describe('the index search rules, in JavaScript', () => {
  it('finds exactly what FTS5 finds, for every query', () => {
    const qs = queries(1200, 5);
    let nonEmpty = 0;
    for (const terms of qs) {
      const want = ftsIds(terms);
      if (want.length) nonEmpty++;
      expect(jsIds(terms), JSON.stringify(terms)).toEqual(want);
    }
    // The queries are not all empty-handed: most find something.
    expect(nonEmpty).toBeGreaterThan(qs.length / 2);
  });

  it('each trigram the index side may drive by, looked up alone, finds every message the whole term finds (a superset)', () => {
    let checked = 0;
    for (const terms of queries(600, 11)) {
      const q = text.compile(terms);
      if (!q || q.drive !== 'trigrams') continue;
      const want = ftsIds(terms);
      for (const needle of q.long) {
        const trigrams = lookupTrigrams(text, needle);
        // Every needle has some (no character of today's SQLite folds twice).
        expect(trigrams.length, JSON.stringify(needle)).toBeGreaterThan(0);
        for (const t of trigrams) {
          const got = new Set(db.prepare('SELECT rowid FROM message_trigrams WHERE message_trigrams MATCH ?').pluck().all(trigramMatch(t)) as number[]);
          for (const id of want) expect(got.has(id), `${JSON.stringify(terms)}: ${JSON.stringify(t)} misses row ${id}`).toBe(true);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(500);
    // and the trigrams are the needle's, every one that can be looked up alone
    expect(lookupTrigrams(text, 'thethe')).toEqual(['the', 'het', 'eth']);
    expect(lookupTrigrams(text, 'ab')).toEqual([]);
    expect(lookupTrigrams(text, text.foldTrigram('Ǽ東京🙂x'))).toEqual([text.foldTrigram('Ǽ東京'), text.foldTrigram('東京🙂'), text.foldTrigram('京🙂x')]);
  });

  it("computes FTS5's bm25() (with its inverse document frequencies put back in)", () => {
    let checked = 0;
    for (const terms of queries(600, 9)) {
      const q = text.compile(terms);
      if (!q) continue;
      const table = q.drive === 'trigrams' ? 'message_trigrams' : 'message_words';
      const phrases = q.match.split(' AND ');
      const rows = db.prepare(`SELECT rowid AS id, bm25(${table}) AS score FROM ${table} WHERE ${table} MATCH ?`).all(q.match) as { id: number; score: number }[];
      if (rows.length === 0) continue;
      // bm25()'s IDF: log((N - nHit + 0.5) / (nHit + 0.5)) per phrase, at least 1e-6.
      const n = corpus.length;
      const idf = phrases.map((p) => {
        const hit = (db.prepare(`SELECT count(*) FROM ${table} WHERE ${table} MATCH ?`).pluck().get(p) as number) ?? 0;
        const v = Math.log((n - hit + 0.5) / (hit + 0.5));
        return v <= 0 ? 1e-6 : v;
      });
      const avgdl = averageSize(db, table);
      const found = new Set(ftsIds(terms));
      for (const r of rows.filter((x) => found.has(x.id))) {
        const m = matchMessage(text, q, corpus[r.id - 1]!);
        expect(m, `${JSON.stringify(terms)} row ${r.id}`).not.toBeNull();
        // (To 1e-12 relative: the IDF's log() here is JavaScript's, not libm's; without IDFs, as the store ranks, nothing else differs.)
        const got = bm25(m!, avgdl, idf);
        expect(Math.abs(got - r.score) / Math.abs(r.score), `${JSON.stringify(terms)} row ${r.id}: ${JSON.stringify(corpus[r.id - 1])}: ${got} vs ${r.score}`).toBeLessThan(1e-12);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });

  it('a term that folds to fewer than 3 characters, or a short term SQLite sees no letter in, matches nothing (as FTS5)', () => {
    for (const terms of [['\u0301\u0301\u0301'], ['ab\u0301'], ['abc', 'e\u0301\u0301']]) {
      expect(ftsIds(terms), JSON.stringify(terms)).toEqual([]);
      expect(text.compile(terms), JSON.stringify(terms)).toBeNull();
    }
    // a term with no letter or digit at all is left out, as before
    expect(text.compile(['*'])).toBeNull();
    expect(text.compile(['*', 'kiwi'])?.long).toEqual(['kiwi']);
  });
});
