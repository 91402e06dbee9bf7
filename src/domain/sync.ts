import type { SyncAck } from '../protocol/events.js';
import { LIMITS } from '../protocol/limits.js';
import type { Message } from '../protocol/models.js';
import type { Store } from '../store/store.js';
import type { ConversationService } from './conversations.js';
import { StatusOracle } from './status.js';
import { BARE_URLS, messageView, type AttachmentUrls } from './views.js';

/**
 * Offline catch-up. A cursor is the `rev` up to which a client applied every
 * change of a conversation (not the highest it saw: live events arrive out of
 * rev order); the answer holds every message changed after it, once, in its
 * latest state, ascending by rev, at most `limit` in all (`hasMore` says to
 * call again with the advanced cursors). The database is the history: a client
 * away for a year pages through like one away for a minute.
 */
export class SyncService {
  constructor(
    private readonly d: {
      store: Store;
      conversations: ConversationService;
      urls?: AttachmentUrls;
    },
  ) {}

  async sync(userId: string, cursors: Record<string, number>, limit: number = LIMITS.sync.default): Promise<Omit<SyncAck, 'ok'>> {
    const revs = await this.d.store.conversationRevs(userId);
    const lastRev = new Map(revs.map((r) => [r.conversationId, r.lastRev]));
    const named = new Map(Object.entries(cursors));

    // Conversations the caller is in that changed after their cursor, or that no cursor names.
    const changed = revs
      .filter((r) => !named.has(r.conversationId) || r.lastRev > (named.get(r.conversationId) ?? 0))
      .map((r) => r.conversationId);

    // Messages: only for named conversations the caller is in, in a stable order.
    const pending = [...named]
      .filter(([id, cursor]) => (lastRev.get(id) ?? 0) > cursor)
      .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
    const messages: Message[] = [];
    let hasMore = false;
    for (const [conversationId, cursor] of pending) {
      const room = limit - messages.length;
      if (room === 0) {
        hasMore = true;
        break;
      }
      const [records, members] = await Promise.all([
        this.d.store.changesSince(conversationId, cursor, room),
        this.d.store.members(conversationId),
      ]);
      const status = new StatusOracle(members);
      const viewer = { userId, urls: this.d.urls ?? BARE_URLS };
      for (const r of records) messages.push(messageView(r, status, viewer));
      const last = records[records.length - 1];
      if (records.length === room && last && last.rev < (lastRev.get(conversationId) ?? 0)) hasMore = true;
    }

    const records = changed.length ? await this.d.store.conversationsByIds(changed) : [];
    records.sort((x, y) => y.activity - x.activity); // latest activity first, as the list
    const conversations = await this.d.conversations.views(userId, records);
    return { messages, conversations, hasMore };
  }
}
