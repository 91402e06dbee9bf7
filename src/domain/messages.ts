import type { JoinAck, SendPayload } from '../protocol/events.js';
import type { HistoryResponse } from '../protocol/http.js';
import { LIMITS } from '../protocol/limits.js';
import type { Message } from '../protocol/models.js';
import type { ChangeOutcome, HistoryQuery, MessageChange, MessageRecord, NewMessage, Store } from '../store/store.js';
import { DomainError, validation } from './errors.js';
import type { EventSink } from './events.js';
import { checkMember } from './conversations.js';
import { GroupCommitQueue } from './group-commit.js';
import type { ConversationMembers, MembershipCache } from './membership.js';
import { StatusOracle } from './status.js';
import { isOneEmoji } from './emoji.js';
import { mentionCandidates } from './mentions.js';
import { rateLimited } from './rate-limits.js';
import { BARE_URLS, messageView, type AttachmentUrls } from './views.js';
import type { OfflineNotifier } from './notifier.js';
import type { PresenceRegistry } from './presence.js';

export interface MessageDeps {
  store: Store;
  membership: MembershipCache;
  events: EventSink;
  now: () => number;
  /** Group-commit bounds. */
  maxBatch?: number;
  maxPending?: number;
  /** Most sends of one user waiting in the queue; past it, `rate_limited` (default: no bound). */
  maxPendingPerUser?: number;
  /** Who is online, to tell offline members through the notifier. */
  presence?: PresenceRegistry;
  notifier?: OfflineNotifier;
  /** Told when who is offline could not be known (no notification went out). */
  onNotifyError?: (err: unknown) => void;
  /** Told of every committed batch: its size and how long the commit took. */
  onCommit?: (stored: number, seconds: number) => void;
  /** Attachment URLs in messages (default: bare paths). */
  urls?: AttachmentUrls;
  /** Called (and awaited) after a deletion erased attachments: deletes their blobs. */
  onErased?: () => Promise<void>;
}

/** Who is acting, and from which socket (so that socket is not echoed). */
export interface Origin {
  userId: string;
  socketId?: string;
}

interface SendItem {
  origin: Origin;
  message: NewMessage;
}

type SendResult =
  /** `members`: the recipients, read in the commit's transaction. */
  | { ok: true; message: MessageRecord; fresh: boolean; state: ConversationMembers; members: readonly string[] }
  | { ok: false; error: DomainError };

export interface HistoryOptions {
  before?: number;
  after?: number;
  limit?: number;
}

/** Sending (group commit, then fan-out) and reading history. */
export class MessageService {
  private readonly queue: GroupCommitQueue<SendItem, SendResult>;
  private readonly changes: GroupCommitQueue<MessageChange, ChangeOutcome>;
  /** Reactions: a queue of their own, so they never wait behind an edit that waits for the search index. */
  private readonly reactions: GroupCommitQueue<MessageChange, ChangeOutcome>;
  /** Sends of each user in the queue (only counted when bounded). */
  private readonly pendingByUser = new Map<string, number>();

  constructor(private readonly d: MessageDeps) {
    this.queue = new GroupCommitQueue((items) => this.commit(items), {
      maxBatch: d.maxBatch ?? 512,
      maxPending: d.maxPending ?? 20_000,
      overloaded: () => new DomainError('unavailable', 'The server is overloaded; retry shortly.', { retryAfter: 1000 }),
    });
    const changeQueue = () =>
      new GroupCommitQueue<MessageChange, ChangeOutcome>((batch) => d.store.changeMessages(batch), {
        maxBatch: 512,
        maxPending: 20_000,
        overloaded: () => new DomainError('unavailable', 'The server is overloaded; retry shortly.', { retryAfter: 1000 }),
      });
    this.changes = changeQueue();
    this.reactions = changeQueue();
  }

  /** Edits a message (its sender only); its mentions are resolved again; members hear `message:updated`. */
  edit(origin: Origin, messageId: string, content: string): Promise<Message> {
    return this.change(origin, { kind: 'edit', messageId, userId: origin.userId, content, mentionNames: mentionCandidates(content), at: this.d.now() });
  }

  /**
   * Adds or removes the caller's reaction (any member, any message not
   * deleted). One that changes something takes a rev and goes out as
   * `message:updated`; one already as asked answers the message as it is.
   */
  react(origin: Origin, messageId: string, emoji: string, add: boolean): Promise<Message> {
    if (!isOneEmoji(emoji)) throw validation('emoji must be exactly one emoji.');
    return this.change(origin, { kind: 'react', messageId, userId: origin.userId, emoji, add, at: this.d.now() });
  }

  /**
   * Deletes a message (its sender only): it keeps its seq, its text is erased
   * from storage and the search index, and members hear `message:updated`.
   * Deleting it again answers it unchanged.
   */
  delete(origin: Origin, messageId: string): Promise<Message> {
    return this.change(origin, { kind: 'delete', messageId, userId: origin.userId, at: this.d.now() });
  }

  private async change(origin: Origin, change: MessageChange): Promise<Message> {
    const outcome = await (change.kind === 'react' ? this.reactions : this.changes).enqueue(change);
    switch (outcome.kind) {
      case 'not_found':
        throw new DomainError('not_found', 'No such message.');
      case 'not_sender':
        throw new DomainError('forbidden', 'Only its sender may change a message.');
      case 'not_member':
        throw new DomainError('forbidden', 'You are not a member of this conversation.');
      case 'deleted':
        throw validation(change.kind === 'react' ? 'A deleted message takes no reactions.' : 'A deleted message cannot be edited.');
      case 'too_many_reactions':
        throw validation(`A message holds at most ${LIMITS.reactionsPerMessage} different emoji.`);
    }
    const conversationId = outcome.message.conversationId;
    const [state, members] = await Promise.all([this.d.membership.get(conversationId), this.d.store.members(conversationId)]);
    const status = new StatusOracle(members);
    if (outcome.kind === 'changed' && state) this.announce(state.members, 'message:updated', outcome.message, status, origin.socketId);
    // A deletion erased its files: their bytes leave storage before the answer.
    if (change.kind === 'delete' && outcome.kind === 'changed' && this.d.onErased) await this.d.onErased();
    return messageView(outcome.message, status, this.viewer(origin.userId));
  }

  private viewer(userId: string) {
    return { userId, urls: this.d.urls ?? BARE_URLS };
  }

  /**
   * A message event to these users. A message with files carries URLs with a
   * grant for each recipient: one payload per user; others one for all.
   */
  private announce(userIds: Iterable<string>, event: 'message:new' | 'message:updated', m: MessageRecord, status: StatusOracle, exceptSocket?: string): void {
    if (m.attachments.length === 0) {
      // (The viewer only shapes attachment URLs, and there are none.)
      this.d.events.toUsers(userIds, event, { message: messageView(m, status, this.viewer('')) }, exceptSocket);
      return;
    }
    for (const userId of userIds) this.d.events.toUsers([userId], event, { message: messageView(m, status, this.viewer(userId)) }, exceptSocket);
  }

  /**
   * Stores a message and answers once it is durable; then every other socket
   * of every member hears `message:new`. A repeated clientId answers the
   * original message and announces nothing.
   */
  async send(origin: Origin, payload: SendPayload): Promise<Message> {
    if ((payload.content ?? '') === '' && !payload.attachmentIds?.length) {
      throw validation('content: must be 1–4000 characters, not only white space (it may be empty only with attachments).');
    }
    const result = await this.fairly(origin.userId, () => this.queue.enqueue({
      origin,
      message: {
        conversationId: payload.conversationId,
        senderId: origin.userId,
        content: payload.content ?? '',
        clientId: payload.clientId ?? null,
        createdAt: this.d.now(),
        // Anything but an id is an id of no message: refused after the clientId check.
        // Left out: not a reply. Anything but a string (null included) names no message: validation.
        replyToId: payload.replyToId === undefined ? null : typeof payload.replyToId === 'string' ? payload.replyToId : '',
        mentionNames: mentionCandidates(payload.content ?? ''),
        attachmentIds: payload.attachmentIds,
      },
    }));
    if (!result.ok) throw result.error;
    const { state } = result;
    if (!result.fresh) {
      // A repeated clientId: the original, in its status of now.
      return messageView(result.message, new StatusOracle(await this.d.store.members(state.id)), this.viewer(origin.userId));
    }
    this.announce(result.members, 'message:new', result.message, StatusOracle.FRESH, origin.socketId);
    this.notifyOffline(result.message, result.members, state.type === 'direct');
    return messageView(result.message, StatusOracle.FRESH, this.viewer(origin.userId));
  }

  /** Runs `enqueue` unless the user already has their share of the queue waiting. */
  private async fairly<T>(userId: string, enqueue: () => Promise<T>): Promise<T> {
    const bound = this.d.maxPendingPerUser ?? Infinity;
    if (bound === Infinity) return enqueue();
    const n = this.pendingByUser.get(userId) ?? 0;
    if (n >= bound) throw rateLimited(1000, 'Too many of your messages are waiting to be stored; retry shortly.');
    this.pendingByUser.set(userId, n + 1);
    try {
      return await enqueue();
    } finally {
      const left = (this.pendingByUser.get(userId) ?? 1) - 1;
      if (left > 0) this.pendingByUser.set(userId, left);
      else this.pendingByUser.delete(userId);
    }
  }

  /**
   * The notifier hears of every stored message, with the other members: it
   * tells those with no socket on any node, as their preferences allow.
   * Only the node that committed it calls, so each is told once.
   */
  private notifyOffline(message: MessageRecord, members: readonly string[], direct: boolean): void {
    const others = members.filter((userId) => userId !== message.senderId);
    if (others.length) this.d.notifier?.notify(message, others, direct);
  }

  /** Resolves once every send and change accepted so far is committed (for shutdown). */
  async drain(): Promise<void> {
    await Promise.all([this.queue.drain(), this.changes.drain(), this.reactions.drain()]);
  }

  /** One batch: membership checks in arrival order, then one transaction. */
  private async commit(items: SendItem[]): Promise<SendResult[]> {
    const results: (SendResult | undefined)[] = new Array(items.length);
    const accepted: { index: number; item: SendItem; state: ConversationMembers }[] = [];
    const states = new Map<string, Promise<ConversationMembers | null>>();
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as SendItem;
      const id = item.message.conversationId;
      let state = states.get(id);
      if (!state) states.set(id, (state = this.d.membership.get(id)));
      try {
        accepted.push({ index: i, item, state: checkMember(await state, item.origin.userId) });
      } catch (e) {
        if (!(e instanceof DomainError)) throw e;
        results[i] = { ok: false, error: e };
      }
    }
    const started = performance.now();
    const outcomes = await this.d.store.appendMessages(accepted.map((a) => a.item.message));
    this.d.onCommit?.(outcomes.filter((o) => o.kind === 'stored').length, (performance.now() - started) / 1000);
    outcomes.forEach((outcome, k) => {
      const { index, state } = accepted[k] as (typeof accepted)[number];
      if (outcome.kind === 'no_conversation') {
        results[index] = { ok: false, error: new DomainError('not_found', 'No such conversation.') };
        return;
      }
      if (outcome.kind === 'not_member') {
        results[index] = { ok: false, error: new DomainError('forbidden', 'You are not a member of this conversation.') };
        return;
      }
      if (outcome.kind === 'bad_attachments') {
        results[index] = { ok: false, error: validation('attachmentIds must be your own uploads to this conversation that no message uses yet.') };
        return;
      }
      if (outcome.kind === 'no_reply_target') {
        results[index] = { ok: false, error: validation('replyToId must be the id of a message of this conversation.') };
        return;
      }
      results[index] = {
        ok: true,
        message: outcome.message,
        fresh: outcome.kind === 'stored',
        state,
        members: outcome.kind === 'stored' ? outcome.members : [],
      };
    });
    return results as SendResult[];
  }

  /** REST history: ascending by seq; the latest page, or before / after a seq. */
  async history(conversationId: string, viewerId: string, opts: HistoryOptions): Promise<HistoryResponse> {
    if (opts.before !== undefined && opts.after !== undefined) {
      throw validation('before and after cannot be used together.');
    }
    const limit = opts.limit ?? LIMITS.history.default;
    const q: HistoryQuery =
      opts.before !== undefined
        ? { before: opts.before, limit }
        : opts.after !== undefined
          ? { after: opts.after, limit }
          : { latest: true, limit };
    return this.page(conversationId, viewerId, q);
  }

  /** `conversation:join`: the latest page, or everything after `afterSeq` (paged). */
  async join(conversationId: string, viewerId: string, opts: { afterSeq?: number; limit?: number }): Promise<Omit<JoinAck, 'ok'>> {
    const limit = opts.limit ?? LIMITS.history.default;
    const q: HistoryQuery = opts.afterSeq !== undefined ? { after: opts.afterSeq, limit } : { latest: true, limit };
    const [page, conversation] = await Promise.all([
      this.page(conversationId, viewerId, q),
      this.d.store.conversationById(conversationId),
    ]);
    return { messages: page.messages, lastSeq: conversation?.lastSeq ?? 0, hasMore: page.hasMore };
  }

  private async page(conversationId: string, viewerId: string, q: HistoryQuery): Promise<HistoryResponse> {
    checkMember(await this.d.membership.get(conversationId), viewerId);
    const [page, members] = await Promise.all([this.d.store.history(conversationId, q), this.d.store.members(conversationId)]);
    const status = new StatusOracle(members);
    const viewer = this.viewer(viewerId);
    return { messages: page.messages.map((m) => messageView(m, status, viewer)), hasMore: page.hasMore };
  }
}
