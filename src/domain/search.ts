import type { SearchResponse } from '../protocol/http.js';
import type { Store } from '../store/store.js';
import { highlights, parseQuery } from '../text/search-text.js';
import { checkMember } from './conversations.js';
import { DomainError } from './errors.js';
import type { MembershipCache } from './membership.js';
import { StatusOracle } from './status.js';
import { BARE_URLS, messageView, type AttachmentUrls } from './views.js';

/**
 * Searches of one user run one at a time (on a node); this many more may
 * wait their turn, in order. A further one is refused (`rate_limited`):
 * a client that sends searches faster than they are answered gets told,
 * and one user never holds more than one of the threads (SQLite) or
 * connections (PostgreSQL) that searches share.
 */
export const SEARCHES_WAITING_PER_USER = 4;

/** How long a refused caller is told to wait. */
const RETRY_AFTER_MS = 1000;

/**
 * Full-text search over the conversations the caller belongs to now. Any text
 * is a valid query: it is read as terms (quoted phrases or words), never as
 * index syntax. Each result carries the code-point ranges of its matches.
 */
export class SearchService {
  /** Per user with a search running: the searches waiting for it, in order. */
  private readonly turns = new Map<string, (() => void)[]>();

  constructor(private readonly d: { store: Store; membership: MembershipCache; waitingPerUser?: number; urls?: AttachmentUrls }) {}

  async search(userId: string, q: string, opts: { conversationId?: string; limit: number }): Promise<SearchResponse> {
    if (opts.conversationId !== undefined) checkMember(await this.d.membership.get(opts.conversationId), userId);
    const terms = parseQuery(q);
    if (terms.length === 0) return { results: [] };
    const done = await this.turn(userId);
    let hits;
    try {
      hits = await this.d.store.search({ userId, terms, conversationId: opts.conversationId, limit: opts.limit });
    } finally {
      done();
    }
    const oracles = new Map<string, StatusOracle>();
    const results = [];
    for (const { message } of hits) {
      let oracle = oracles.get(message.conversationId);
      if (!oracle) {
        oracle = new StatusOracle(await this.d.store.members(message.conversationId));
        oracles.set(message.conversationId, oracle);
      }
      results.push({ ...messageView(message, oracle, { userId, urls: this.d.urls ?? BARE_URLS }), highlights: highlights(message.content, terms) });
    }
    return { results };
  }

  /** Resolves when it is this user's turn to search; the returned function ends the turn. */
  private async turn(userId: string): Promise<() => void> {
    const done = () => {
      const waiting = this.turns.get(userId);
      const next = waiting?.shift();
      if (next) next();
      else this.turns.delete(userId);
    };
    const waiting = this.turns.get(userId);
    if (!waiting) {
      this.turns.set(userId, []);
      return done;
    }
    if (waiting.length >= (this.d.waitingPerUser ?? SEARCHES_WAITING_PER_USER)) {
      throw new DomainError('rate_limited', 'Too many searches at once: wait for the answers to the earlier ones.', { retryAfter: RETRY_AFTER_MS });
    }
    await new Promise<void>((resolve) => waiting.push(resolve));
    return done;
  }
}
