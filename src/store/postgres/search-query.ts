/**
 * Search on PostgreSQL: what a message's search columns hold, and the query
 * for a list of terms. The rules are the same as SQLite's (src/text): terms
 * of 3+ characters match as substrings of the folded text (pg_trgm's GIN
 * index finds the candidates, LIKE checks them); shorter terms match as word
 * prefixes (the `search_words` array's GIN index), and in unspaced scripts
 * (CJK...) as the character sequence itself.
 */
import { foldText, hasUnspacedScript, highlightNeedle, searchableText, wordTokens } from '../../text/search-text.js';

/** Search ranks at most this many of the newest matches in the caller's conversations. */
export const SEARCH_CANDIDATES = 2000;

/**
 * Callers whose conversations hold at most this many messages are searched
 * by reading those messages (the scope side); reading 20,000 messages and
 * testing their folded text costs ~10-20 ms of the server's time at most
 * (docs/performance.md). Others are searched through the GIN indexes (the
 * index side) when that costs less: through the indexes a term costs every
 * row of the table holding all its trigrams (each fetched and rechecked),
 * which for a common term is most of the table, the stall of issue #17
 * whatever the caller holds. So above this, the newest SAMPLE_ROWS messages
 * tell how many rows of the table the indexes would hand over
 * (sampleConditions); the index side is taken when that is no more than
 * the caller's conversations hold, else the scope side.
 */
export const SCOPE_SCAN_MAX = 20_000;
/** Messages read (newest first) to judge what the index side would cost. */
export const SAMPLE_ROWS = 2000;

/** What the search columns of a message hold for this content and these attachment names. */
export function searchColumns(content: string, names: readonly string[]): { text: string; words: string[] } {
  // (U+0000 cannot be stored in text; it separates like a space.)
  const text = foldText(searchableText(content, names)).replaceAll('\u0000', ' ');
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

/** At most this many trigrams of the needles are tested in the sample (fewer only raises the estimate). */
export const SAMPLE_TRIGRAMS = 8;

/**
 * Conditions a row meets when the GIN indexes can hand it over for these
 * terms (a superset of what they hand over): for terms of 3+ characters,
 * trigrams of the needle's runs of letters and digits (pg_trgm indexes
 * words), at most SAMPLE_TRIGRAMS of them spread over all; for shorter
 * terms, their word tokens. A term with no run of 3 letters or digits adds
 * nothing: pg_trgm can narrow by it only through padded word trigrams
 * (`" a "`) or not at all (a full index scan), so it is taken as matching
 * every row. No condition left: every row (the scope side answers).
 * Parameters from `first`, as searchConditions.
 */
export function sampleConditions(terms: readonly string[], first: number): { sql: string[]; params: unknown[] } {
  const sql: string[] = [];
  const params: unknown[] = [];
  const param = (v: unknown) => {
    params.push(v);
    return `$${first + params.length - 1}`;
  };
  const trigrams = new Set<string>();
  for (const term of terms) {
    if ([...term].length >= 3) {
      for (const run of foldText(term).match(/[\p{L}\p{N}]+/gu) ?? []) {
        const cps = [...run];
        for (let i = 0; i + 3 <= cps.length; i++) trigrams.add(cps.slice(i, i + 3).join(''));
      }
      continue;
    }
    const needle = foldText(highlightNeedle(term));
    if (!needle) continue;
    const words = wordTokens(needle).filter((t) => [...t].length === Math.min(2, [...needle].length) || hasUnspacedScript(t));
    if (words.length) sql.push(`m.search_words @> ${param(words)}::text[]`);
  }
  const all = [...trigrams];
  const picked =
    all.length <= SAMPLE_TRIGRAMS ? all : Array.from({ length: SAMPLE_TRIGRAMS }, (_, i) => all[Math.round((i * (all.length - 1)) / (SAMPLE_TRIGRAMS - 1))]!);
  for (const t of picked) sql.push(`m.search_text LIKE ${param(containsPattern(t))}`);
  return { sql, params };
}

/**
 * How many rows of the table the index side would hand over, judged from
 * the newest SAMPLE_ROWS messages. Parameters: the conditions' own, from $1.
 * One more hit than seen is assumed: a term absent from the newest messages
 * is taken as rare, not as absent.
 */
export function sampleStatement(c: { sql: string[] }): string {
  const hit = c.sql.length ? c.sql.join(' AND ') : 'true';
  return `SELECT ((count(*) FILTER (WHERE ${hit}) + 1)::float8 / greatest(count(*), 1)) * coalesce(max(m.id), 0) AS expected
          FROM (SELECT id, search_text, search_words FROM messages ORDER BY id DESC LIMIT ${SAMPLE_ROWS}) m`;
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
