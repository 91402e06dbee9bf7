/**
 * Search on PostgreSQL: what a message's search columns hold, and the query
 * for a list of terms. The rules are the same as SQLite's (src/text): terms
 * of 3+ characters match as substrings of the folded text (pg_trgm's GIN
 * index finds the candidates, LIKE checks them); shorter terms match as word
 * prefixes (the `search_words` array's GIN index), and in unspaced scripts
 * (CJK...) as the character sequence itself.
 */
import { foldText, hasUnspacedScript, highlightNeedle, wordTokens } from '../../text/search-text.js';

/** Search ranks at most this many of the newest matches in the caller's conversations. */
export const SEARCH_CANDIDATES = 2000;

/**
 * Callers whose conversations hold at most this many messages are searched
 * by reading those messages (the scope side); others through the GIN
 * indexes (the index side). Through the indexes, a common term costs its
 * whole posting list (every row holding its trigrams, each rechecked), the
 * stall of issue #17 for a caller in one small conversation; reading 20,000
 * messages and testing their folded text costs ~10-20 ms of the server's
 * time at most (docs/performance.md). Above it the indexes are taken: the
 * caller then holds a share of the table, and rare terms are cheap there.
 */
export const SCOPE_SCAN_MAX = 20_000;

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

/**
 * The search statement. Parameters: $1 the user, $2 the one conversation
 * (or null), $3 the limit, $4 the needles (for ranking); the scope side
 * also $5, the caller's conversations; then the conditions' own
 * (searchConditions with `first` = conditionsFrom(side)).
 *
 * The newest SEARCH_CANDIDATES matches, ranked by how often the terms occur
 * for the text's length (lower is better, as BM25's sign in SQLite); ties
 * to the newer message.
 */
export function searchStatement(c: SearchConditions, side: 'index' | 'scope', oneConversation: boolean, messageColumns: string): string {
  const hits =
    side === 'scope'
      ? // The caller's messages, read through messages_seq, then tested (OFFSET 0: the
        // conditions stay outside, where no GIN index can take them over).
        `SELECT m.id, m.search_text FROM (
           SELECT id, search_text, search_words FROM messages
           WHERE conversation_id = ANY($5::bigint[]) AND deleted_at IS NULL
             AND conversation_id IN (SELECT conversation_id FROM members WHERE user_id = $1)
             AND ($2::bigint IS NULL OR conversation_id = $2)
           OFFSET 0
         ) m
         WHERE ${c.sql.join(' AND ')}
         ORDER BY m.id DESC LIMIT ${SEARCH_CANDIDATES}`
      : `SELECT m.id, m.search_text FROM messages m
         WHERE ${c.sql.join(' AND ')} AND m.deleted_at IS NULL AND ${
           oneConversation
             ? 'm.conversation_id = $2 AND EXISTS (SELECT 1 FROM members WHERE conversation_id = $2 AND user_id = $1)'
             : 'm.conversation_id IN (SELECT conversation_id FROM members WHERE user_id = $1) AND $2::bigint IS NULL'
         }
         ORDER BY m.id DESC LIMIT ${SEARCH_CANDIDATES}`;
  return `WITH hits AS (${hits}
       ), scored AS (
         SELECT h.id, -(SELECT sum((char_length(h.search_text) - char_length(replace(h.search_text, n, ''))) / char_length(n))
                        FROM unnest($4::text[]) AS n WHERE n <> '')::float8 / ln(16 + char_length(h.search_text)) AS score
         FROM hits h
       )
       SELECT ${messageColumns}, s.score FROM scored s JOIN messages m ON m.id = s.id
       ORDER BY s.score, m.id DESC LIMIT $3`;
}

/** Where the conditions' parameters start, per side. */
export const conditionsFrom = (side: 'index' | 'scope'): number => (side === 'scope' ? 6 : 5);
