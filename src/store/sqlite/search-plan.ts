/**
 * One search, run on a reader thread's connection (search-reader.ts): the
 * main database read-only with the index attached as `search`.
 *
 * What it answers: the newest SEARCH_CANDIDATES messages of the caller's
 * conversations whose text matches every term (as the index matches:
 * fts-text.ts), ranked by BM25 on the driving index (without the inverse
 * document frequencies: decisions.md §20), ties to the newer message. The
 * text is the messages' own, as committed: what the index has not taken in
 * yet (the newest messages, changes not applied) is read from the messages
 * themselves, so a search never waits for the indexer, and sees every
 * message acknowledged before it, even while the indexer is down.
 *
 * What it costs is bounded by what the caller's conversations hold, S
 * messages (the sum of their last seqs), by reading whichever side is
 * smaller:
 * - the index side: one token's postings newest first (one trigram of one
 *   term, chosen as the rarest of a few by reading DRIVE_PROBE postings of
 *   each; or, for short terms alone, one word-prefix phrase), each joined to
 *   its message, kept if it is in the caller's conversations and if the
 *   message matches every term (checked here, fts-text.ts), until
 *   SEARCH_CANDIDATES are found. One trigram, so that every posting FTS5
 *   reads is a row counted here: a phrase or an AND of several would be
 *   matched inside FTS5, which may walk long posting lists to return no row
 *   at all (three common trigrams rarely in a row, two common words rarely
 *   together). Cheap for a rare term, or for a caller who holds much of the
 *   database; for a common term and a caller in one small conversation it
 *   would read the whole posting list (the stall of issue #17). So it reads
 *   at most INDEX_POSTINGS_PER_MESSAGE × S postings, and most of that
 *   budget is not spent when it would not be enough: after DENSITY_PROBE
 *   postings, how far down the ids they reach tells how many the term has
 *   in all (expectedPostings);
 * - the scope side, when the budget runs out (or would): every message of
 *   the caller's conversations, matched in JavaScript exactly as the index
 *   matches, S messages.
 * Either way at most ~(1 + 2 + 1) × S rows are read (what the index lacks,
 * the budget, the scope), plus the choice of the token (at most
 * DRIVE_CANDIDATES × DRIVE_PROBE postings), and never more postings than
 * the token has. Two exceptions to reading the index first: a scope of
 * a few hundred messages (reading them costs less than opening the index's
 * iterators), and short terms alone (a word-prefix query merges every
 * posting of the prefix before it returns its first row, so it costs the
 * whole posting list at once: it is taken only when the caller's
 * conversations hold a large share of the index, where that is no more).
 * The index side also reads the messages the index has not taken in, and
 * the changes (edits, deletions) it has not applied (normally about a
 * second of traffic); when those are more than S (an index rebuilding, a
 * mass deletion not yet taken in), the scope side answers.
 */
import { threadId } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { searchableText } from '../../text/search-text.js';
import { attachmentNames, type MessageRow } from '../rows.js';
import { bm25, FtsText, lookupTrigrams, matchMessage, parseAverages, trigramMatch, type CompiledQuery, type MessageMatch } from './fts-text.js';
import { MSG_COLS } from './statements.js';

/** Search ranks at most this many of the newest matches in the caller's conversations. */
export const SEARCH_CANDIDATES = 2000;
/** Postings the index side may read per message the caller's conversations hold, before the scope side takes over. */
export const INDEX_POSTINGS_PER_MESSAGE = 2;
/** After this many postings, the index side judges whether it can finish within its budget (expectedPostings). */
export const DENSITY_PROBE = 256;
/** At most this many of the terms' trigrams are probed to choose the one that drives the index side. */
export const DRIVE_CANDIDATES = 8;
/** Postings read of each, newest first: fewer means it has that many in all; otherwise how far down the ids they reach tells. */
export const DRIVE_PROBE = 64;
/** Scopes of at most this many messages are read directly. */
export const DIRECT_SCAN_MAX = 256;
/**
 * Short terms alone go to the index only when the caller's conversations
 * hold at least this share of its rows: a prefix's postings are merged at
 * ~0.15 µs each, a message is read and matched in ~1.5 µs, so the index then
 * costs at most what reading the scope would.
 */
export const WORDS_INDEX_MIN_SHARE = 1 / 16;

export interface SearchRequest {
  /** The caller's user key. */
  user: number;
  /** Only this conversation (its key), if the caller is a member. */
  conversation: number | null;
  terms: readonly string[];
  limit: number;
  /** Force a side (tests, benchmarks); default: as above. */
  plan?: SearchPlanChoice;
}

export type SearchPlanChoice = 'auto' | 'index' | 'scope';

/** What one search did: which side answered and how much it read. */
export interface SearchStats {
  plan: 'index' | 'scope' | 'none';
  /** Messages the caller's conversations hold (S). */
  scopeMessages: number;
  /** Postings of the driving token read (the index side, including a try that ran out of budget). */
  postingsRead: number;
  /** Postings read to choose the driving token. */
  probeRead: number;
  /** The driving token's MATCH expression (the index side). */
  drive: string | null;
  /** Messages of the caller's conversations read (the scope side). */
  messagesRead: number;
  /** Messages read because the index had not taken them in yet, or not their last change (the index side). */
  unindexedRead: number;
  /** Matches ranked. */
  candidates: number;
  /** The thread that ran it (0 would be the main thread). */
  threadId: number;
  /** Time spent, ms (in the reader thread). */
  ms: number;
}

export interface SearchAnswer {
  rows: (MessageRow & { score: number })[];
  stats: SearchStats;
}

/** Thrown from the posting counter to stop reading the index once its budget is spent. */
const OVER_BUDGET = new Error('the index side spent its budget');

interface Candidate {
  id: number;
  match: MessageMatch;
}

interface Scope {
  conversations: Set<number>;
  /** Messages they hold (last seqs: deleted ones included). */
  messages: number;
}

/** The index's progress: messages up to `indexedId` and changes up to `outboxId` are in it. */
interface Marks {
  indexedId: number;
  outboxId: number;
}

/** A message as search reads it: its content and its attachments' names. */
interface TextRow {
  id: number;
  content: string;
  attachments: string | null;
}
interface ScopedRow extends TextRow {
  conversation_id: number;
}
const searchable = (row: TextRow): string => searchableText(row.content, attachmentNames(row.attachments));

const byNewest = (a: { id: number }, b: { id: number }) => b.id - a.id;

export class SearchPlanner {
  private readonly text = new FtsText();
  private readonly s;
  private readonly indexSide = new Map<string, Database.Statement>();
  private postings = 0;
  private budget = Infinity;
  /** The index side's matches in scope so far, and the newest message id the index holds (for expectedPostings). */
  private found = 0;
  private top = 0;
  private readonly run;

  constructor(private readonly db: Database.Database) {
    // Counts the postings the index side reads; throws once over budget (which stops the statement).
    db.function('parley_posting', { deterministic: false }, (rowid: unknown) => {
      const n = ++this.postings;
      if (n > this.budget) throw OVER_BUDGET;
      if (n === DENSITY_PROBE && this.expectedPostings(n, Number(rowid)) > this.budget) throw OVER_BUDGET;
      return 1;
    });
    this.s = {
      scopeAll: db.prepare(
        `SELECT m.conversation_id AS id, c.last_seq AS messages
         FROM members m JOIN conversations c ON c.id = m.conversation_id WHERE m.user_id = ?`,
      ),
      scopeOne: db.prepare(
        `SELECT m.conversation_id AS id, c.last_seq AS messages
         FROM members m JOIN conversations c ON c.id = m.conversation_id WHERE m.conversation_id = ? AND m.user_id = ?`,
      ),
      marks: db.prepare('SELECT indexed_id AS indexedId, outbox_id AS outboxId FROM search.index_marks WHERE id = 1'),
      pending: db.prepare('SELECT DISTINCT message_id FROM search_outbox WHERE id > ?').pluck(),
      outboxTop: db.prepare('SELECT max(id) FROM search_outbox').pluck(),
      // The newest postings of one trigram, to judge how many it has.
      probe: db.prepare('SELECT rowid FROM message_trigrams WHERE message_trigrams MATCH ? ORDER BY rowid DESC LIMIT ?').pluck(),
      // The scope side: the caller's messages, through an index that starts with conversation_id.
      scanAll: db.prepare(
        `SELECT id, content, attachments FROM messages
         WHERE conversation_id IN (SELECT conversation_id FROM members WHERE user_id = @user) AND deleted_at IS NULL`,
      ),
      scanOne: db.prepare('SELECT id, content, attachments FROM messages WHERE conversation_id = @conversation AND deleted_at IS NULL'),
      // The caller's messages the index has not taken in yet: the newest ids,
      // read by id (`+conversation_id`: not through the conversations' index,
      // which would read every message of theirs to find the few new ones).
      tailAll: db.prepare(
        `SELECT id, conversation_id, content, attachments FROM messages
         WHERE id > @after AND deleted_at IS NULL AND +conversation_id IN (SELECT conversation_id FROM members WHERE user_id = @user)`,
      ),
      tailOne: db.prepare('SELECT id, conversation_id, content, attachments FROM messages WHERE id > @after AND deleted_at IS NULL AND +conversation_id = @conversation'),
      current: db.prepare('SELECT id, conversation_id, content, attachments FROM messages WHERE id = ? AND deleted_at IS NULL'),
      newest: db.prepare('SELECT max(id) FROM messages').pluck(),
      message: db.prepare(`SELECT ${MSG_COLS} FROM messages WHERE id = ?`),
      // Each FTS5 table's averages record (row count, total size).
      averages: {
        trigrams: db.prepare('SELECT block FROM search.message_trigrams_data WHERE id = 1').pluck(),
        words: db.prepare('SELECT block FROM search.message_words_data WHERE id = 1').pluck(),
      },
    };
    // One read transaction: the main database's snapshot first (the
    // scope), then the index's. Every change the index has applied is then
    // in the messages read, and every message or change in them that it has
    // not is beyond its marks, read from the messages.
    this.run = db.transaction((req: SearchRequest, q: CompiledQuery, stats: SearchStats) => this.search(req, q, stats));
  }

  close(): void {
    this.text.close();
  }

  answer(req: SearchRequest): SearchAnswer {
    const started = performance.now();
    const stats: SearchStats = { plan: 'none', scopeMessages: 0, postingsRead: 0, probeRead: 0, drive: null, messagesRead: 0, unindexedRead: 0, candidates: 0, threadId, ms: 0 };
    const q = this.text.compile(req.terms);
    const rows = q ? this.run(req, q, stats) : [];
    stats.ms = Math.round((performance.now() - started) * 100) / 100;
    return { rows, stats };
  }

  private search(req: SearchRequest, q: CompiledQuery, stats: SearchStats): (MessageRow & { score: number })[] {
    const rows = (req.conversation === null ? this.s.scopeAll.all(req.user) : this.s.scopeOne.all(req.conversation, req.user)) as {
      id: number;
      messages: number;
    }[];
    const scope: Scope = { conversations: new Set(rows.map((r) => r.id)), messages: rows.reduce((n, r) => n + r.messages, 0) };
    if (scope.messages === 0) return [];
    const S = scope.messages;
    stats.scopeMessages = S;
    const marks = this.s.marks.get() as Marks;
    const index = parseAverages(this.s.averages[q.drive].get() as Uint8Array | undefined);

    let plan: 'index' | 'scope';
    if (req.plan === 'index' || req.plan === 'scope') plan = req.plan;
    else if (S <= DIRECT_SCAN_MAX) plan = 'scope';
    else if (q.drive === 'words' && S < index.rows * WORDS_INDEX_MIN_SHARE) plan = 'scope';
    // (An index far behind, say rebuilding: what it lacks would be read anyway.)
    else plan = this.unindexed(marks) > S ? 'scope' : 'index';
    let found: Candidate[] | null = null;
    if (plan === 'index') {
      found = this.fromIndex(req, q, scope, marks, req.plan === 'index' ? Infinity : INDEX_POSTINGS_PER_MESSAGE * S, stats);
      if (found === null) plan = 'scope';
    }
    found ??= this.fromScope(req, q, stats);
    stats.plan = plan;
    stats.candidates = found.length;

    // BM25 on the driving index, best first, ties to the newer message.
    const ranked = found.map((c) => ({ id: c.id, score: bm25(c.match, index.avgdl) }));
    ranked.sort((a, b) => a.score - b.score || b.id - a.id);
    return ranked.slice(0, req.limit).map((r) => ({ ...(this.s.message.get(r.id) as MessageRow), score: r.score }));
  }

  /** About how many messages and changes the index has not taken in (each read by the index side). */
  private unindexed(marks: Marks): number {
    const newest = (this.s.newest.get() as number | null) ?? 0;
    const outbox = (this.s.outboxTop.get() as number | null) ?? marks.outboxId;
    return Math.max(0, newest - marks.indexedId) + Math.max(0, outbox - marks.outboxId);
  }

  /**
   * The one token whose postings drive the index side: for trigram queries,
   * the rarest of up to DRIVE_CANDIDATES of the terms' trigrams (spread
   * over them), judged from its newest DRIVE_PROBE postings; for short terms
   * alone, the word phrase with the most characters (its prefix's postings
   * are merged whole anyway: WORDS_INDEX_MIN_SHARE; a phrase of several
   * tokens, `"日 本"*`, is matched inside FTS5, within that bound). Null
   * when no trigram can be looked up alone (characters the index would fold
   * twice: none in today's SQLite): the scope side answers.
   */
  private chooseDrive(q: CompiledQuery, top: number, stats: SearchStats): string | null {
    if (q.drive === 'words') {
      const chars = (p: { tokens: string[] }) => p.tokens.join('').length;
      return q.short.reduce((a, b) => (chars(b) > chars(a) ? b : a)).match;
    }
    const all = [...new Set(q.long.flatMap((needle) => lookupTrigrams(this.text, needle)))];
    if (all.length === 0) return null;
    const picked =
      all.length <= DRIVE_CANDIDATES ? all : Array.from({ length: DRIVE_CANDIDATES }, (_, i) => all[Math.round((i * (all.length - 1)) / (DRIVE_CANDIDATES - 1))]!);
    if (picked.length === 1) return trigramMatch(picked[0]!);
    let best = picked[0]!;
    let fewest = Infinity;
    for (const t of picked) {
      const rowids = this.s.probe.all(trigramMatch(t), DRIVE_PROBE) as number[];
      stats.probeRead += rowids.length;
      const total = rowids.length < DRIVE_PROBE ? rowids.length : (DRIVE_PROBE * top) / Math.max(1, top - rowids[rowids.length - 1]! + 1);
      if (total < fewest) [best, fewest] = [t, total];
      // Nothing has it: the index side ends at once.
      if (total === 0) break;
    }
    return trigramMatch(best);
  }

  /**
   * How many postings the index side will likely read in all, judged after
   * the first `n`: they cover the ids from the newest down to `rowid`, so
   * at that density the term has about n × top / (top - rowid) postings;
   * and if some were in scope, SEARCH_CANDIDATES of them come after about
   * SEARCH_CANDIDATES × n / found. A term spread evenly over a million
   * messages is known for common after a few hundred postings, not after
   * the whole budget.
   */
  private expectedPostings(n: number, rowid: number): number {
    const total = (n * this.top) / Math.max(1, this.top - rowid + 1);
    return this.found > 0 ? Math.min(total, (SEARCH_CANDIDATES * n) / this.found) : total;
  }

  /**
   * The index side: the newest SEARCH_CANDIDATES matches in scope, or null
   * when that would take more than `budget` postings (or likely would,
   * judged after DENSITY_PROBE of them). What the index does not hold as it
   * is now is read from the messages: those beyond its marks (all newer
   * than what it holds), and those with a change it has not applied (its
   * postings for them are passed over).
   */
  private fromIndex(req: SearchRequest, q: CompiledQuery, scope: Scope, marks: Marks, budget: number, stats: SearchStats): Candidate[] | null {
    const out: Candidate[] = [];
    const consider = (row: ScopedRow | undefined) => {
      if (!row || !scope.conversations.has(row.conversation_id)) return;
      stats.unindexedRead++;
      const match = matchMessage(this.text, q, searchable(row));
      if (match) out.push({ id: row.id, match });
    };
    const tail = req.conversation === null ? this.s.tailAll : this.s.tailOne;
    for (const row of tail.iterate({ after: marks.indexedId, user: req.user, conversation: req.conversation }) as Iterable<ScopedRow>) {
      consider(row);
    }
    out.sort(byNewest);
    const pending = new Set(this.s.pending.all(marks.outboxId) as number[]);

    const statement = this.indexStatement(q.drive, req.conversation !== null);
    const fromTail = out.length;
    this.postings = 0;
    this.found = 0;
    this.top = marks.indexedId;
    this.budget = budget;
    try {
      if (out.length < SEARCH_CANDIDATES) {
        const drive = this.chooseDrive(q, marks.indexedId, stats);
        if (drive === null) return null;
        stats.drive = drive;
        for (const row of statement.iterate({ match: drive, user: req.user, conversation: req.conversation }) as Iterable<TextRow>) {
          if (pending.has(row.id)) continue;
          // The driving token matched; every term is checked here.
          const match = matchMessage(this.text, q, searchable(row));
          if (!match) continue;
          out.push({ id: row.id, match });
          this.found = out.length - fromTail;
          if (out.length === SEARCH_CANDIDATES) break;
        }
      }
    } catch (e) {
      if (e !== OVER_BUDGET) throw e;
      return null;
    } finally {
      stats.postingsRead = Math.min(this.postings, this.budget);
      this.budget = Infinity;
    }
    // Changed since the index took them in (and not beyond its marks: read above).
    for (const id of pending) if (id <= marks.indexedId) consider(this.s.current.get(id) as ScopedRow | undefined);
    out.sort(byNewest);
    return out.length > SEARCH_CANDIDATES ? out.slice(0, SEARCH_CANDIDATES) : out;
  }

  /** The scope side: every message of the caller's conversations, matched here; the newest SEARCH_CANDIDATES. */
  private fromScope(req: SearchRequest, q: CompiledQuery, stats: SearchStats): Candidate[] {
    const statement = req.conversation === null ? this.s.scanAll : this.s.scanOne;
    const out: Candidate[] = [];
    let read = 0;
    for (const row of statement.iterate({ user: req.user, conversation: req.conversation }) as Iterable<TextRow>) {
      read++;
      const match = matchMessage(this.text, q, searchable(row));
      if (match) out.push({ id: row.id, match });
    }
    stats.messagesRead = read;
    out.sort(byNewest);
    return out.length > SEARCH_CANDIDATES ? out.slice(0, SEARCH_CANDIDATES) : out;
  }

  /**
   * The index side's statement: the driving index read newest first, each
   * posting counted (parley_posting, evaluated before the join), joined to
   * its message, kept if in scope and not deleted.
   */
  private indexStatement(drive: CompiledQuery['drive'], oneConversation: boolean): Database.Statement {
    const key = `${drive}${oneConversation}`;
    let statement = this.indexSide.get(key);
    if (statement) return statement;
    const table = drive === 'trigrams' ? 'message_trigrams' : 'message_words';
    const scope = oneConversation ? 'm.conversation_id = @conversation' : 'm.conversation_id IN (SELECT conversation_id FROM members WHERE user_id = @user)';
    statement = this.db.prepare(
      `SELECT m.id, m.content, m.attachments FROM ${table} d JOIN messages m ON m.id = d.rowid
       WHERE ${table} MATCH @match AND parley_posting(d.rowid) AND m.deleted_at IS NULL AND ${scope}
       ORDER BY d.rowid DESC`,
    );
    this.indexSide.set(key, statement);
    return statement;
  }
}
