/**
 * Search on PostgreSQL: what a message's search columns hold, and the query
 * for a list of terms. The rules are the same as SQLite's (src/text): terms
 * of 3+ characters match as substrings of the folded text (pg_trgm's GIN
 * index finds the candidates, LIKE checks them); shorter terms match as word
 * prefixes (the `search_words` array's GIN index), and in unspaced scripts
 * (CJK...) as the character sequence itself.
 */
import { foldText, hasUnspacedScript, highlightNeedle, wordTokens } from '../../text/search-text.js';

/** What the search columns of a message hold for this content. */
export function searchColumns(content: string): { text: string; words: string[] } {
  // (U+0000 cannot be stored in text; it separates like a space.)
  const text = foldText(content).replaceAll('\u0000', ' ');
  return { text, words: wordTokens(text) };
}

/** A LIKE pattern matching `s` anywhere (its own % _ \ taken literally). */
const containsPattern = (s: string): string => `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export interface SearchConditions {
  /** SQL conditions on `m` with numbered parameters from `first`. */
  sql: string[];
  params: unknown[];
  /** Folded needles, for ranking by how often they occur. */
  needles: string[];
}

/** The conditions for `terms` (every one must match); null when no term can match anything. */
export function searchConditions(terms: readonly string[], first: number): SearchConditions | null {
  const sql: string[] = [];
  const params: unknown[] = [];
  const needles: string[] = [];
  const param = (v: unknown) => {
    params.push(v);
    return `$${first + params.length - 1}`;
  };
  for (const term of terms) {
    if ([...term].length >= 3) {
      const needle = foldText(term);
      // (Only combining marks: nothing is left to compare.)
      if (!needle) continue;
      sql.push(`m.search_text LIKE ${param(containsPattern(needle))}`);
      needles.push(needle);
      continue;
    }
    const needle = foldText(highlightNeedle(term));
    // Terms with no letter or digit cannot be matched by words and are left out.
    if (!needle) continue;
    const words = wordTokens(needle).filter((t) => [...t].length === Math.min(2, [...needle].length) || hasUnspacedScript(t));
    sql.push(`m.search_words @> ${param(words)}::text[]`);
    if (hasUnspacedScript(needle)) sql.push(`m.search_text LIKE ${param(containsPattern(needle))}`);
    needles.push(needle);
  }
  return sql.length ? { sql, params, needles } : null;
}
