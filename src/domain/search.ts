import type { SearchResponse } from '../protocol/http.js';
import type { Store } from '../store/store.js';
import { highlights, parseQuery } from '../text/search-text.js';
import { checkMember } from './conversations.js';
import type { MembershipCache } from './membership.js';
import { StatusOracle } from './status.js';
import { messageView } from './views.js';

/**
 * Full-text search over the conversations the caller belongs to now. Any text
 * is a valid query: it is read as terms (quoted phrases or words), never as
 * index syntax. Each result carries the code-point ranges of its matches.
 */
export class SearchService {
  constructor(private readonly d: { store: Store; membership: MembershipCache }) {}

  async search(userId: string, q: string, opts: { conversationId?: string; limit: number }): Promise<SearchResponse> {
    if (opts.conversationId !== undefined) checkMember(await this.d.membership.get(opts.conversationId), userId);
    const terms = parseQuery(q);
    if (terms.length === 0) return { results: [] };
    const hits = await this.d.store.search({ userId, terms, conversationId: opts.conversationId, limit: opts.limit });
    const oracles = new Map<string, StatusOracle>();
    const results = [];
    for (const { message } of hits) {
      let oracle = oracles.get(message.conversationId);
      if (!oracle) {
        oracle = new StatusOracle(await this.d.store.members(message.conversationId));
        oracles.set(message.conversationId, oracle);
      }
      results.push({ ...messageView(message, oracle), highlights: highlights(message.content, terms) });
    }
    return { results };
  }
}
