import type { Conversation } from '../protocol/models.js';
import type { CreateConversationBody } from '../protocol/http.js';
import type { ConversationRecord, MemberRecord, NotifyLevel, Store, UserRecord } from '../store/store.js';
import { LIMITS } from '../protocol/limits.js';
import { forbidden, notFound, validation } from './errors.js';
import type { EventSink } from './events.js';
import { parseInstant } from './notification-rules.js';
import type { ConversationMembers, MembershipCache } from './membership.js';
import type { PresenceRegistry } from './presence.js';
import { StatusOracle } from './status.js';
import { BARE_URLS, conversationView, type AttachmentUrls } from './views.js';

export interface ConversationDeps {
  store: Store;
  membership: MembershipCache;
  presence: PresenceRegistry;
  events: EventSink;
  now: () => number;
  /** Attachment URLs of last messages (default: bare paths). */
  urls?: AttachmentUrls;
}

export interface ListOptions {
  limit: number;
  cursor?: string;
  archived?: boolean;
}

// ---- checks (pure) ----------------------------------------------------------

/** The member rows of a conversation the actor belongs to, or why not. */
export function checkMember(c: ConversationMembers | null, userId: string): ConversationMembers {
  if (!c) throw notFound('No such conversation.');
  if (!c.members.has(userId)) throw forbidden('You are not a member of this conversation.');
  return c;
}

export function checkCanAddMember(c: ConversationMembers): void {
  if (c.type !== 'group') throw validation('A direct conversation has exactly two members.');
  if (c.members.size >= LIMITS.groupMembersMax) throw validation(`A group has at most ${LIMITS.groupMembersMax} members.`);
}

export function checkCanRemoveMember(c: ConversationMembers, actorId: string, targetId: string): void {
  if (c.type !== 'group') throw validation('A direct conversation has exactly two members.');
  if (actorId !== targetId && c.ownerId !== actorId) {
    throw forbidden('Only the owner may remove another member.');
  }
  if (!c.members.has(targetId)) throw notFound('That user is not a member of this conversation.');
}

/** Direct: one other user. Group: the creator first, then the others, once each. */
export function checkNewConversation(creatorId: string, body: CreateConversationBody): { memberIds: string[]; title: string | null } {
  const others = [...new Set(body.memberIds)].filter((id) => id !== creatorId);
  if (body.type === 'direct') {
    if (others.length !== 1 || body.memberIds.length !== 1) {
      throw validation('memberIds: a direct conversation takes exactly one other user.');
    }
    return { memberIds: [creatorId, ...others], title: null };
  }
  const title = body.title?.trim();
  if (!title) throw validation('title: a group needs a title.');
  if (others.length + 1 > LIMITS.groupMembersMax) {
    throw validation(`memberIds: a group has at most ${LIMITS.groupMembersMax} members.`);
  }
  return { memberIds: [creatorId, ...others], title };
}

// ---- cursors ------------------------------------------------------------------

/** A list cursor: the activity position of the last conversation of a page, opaque to clients. */
function encodeCursor(c: ConversationRecord): string {
  return 'a' + c.activity.toString(36);
}

function decodeCursor(cursor: string): number {
  const n = /^a[0-9a-z]{1,11}$/.test(cursor) ? parseInt(cursor.slice(1), 36) : NaN;
  if (!Number.isSafeInteger(n)) throw validation('cursor: not a cursor this server issued.');
  return n;
}

// ---- the service --------------------------------------------------------------

/** Conversations: creation, listing, views, title, members, archive. */
export class ConversationService {
  constructor(private readonly d: ConversationDeps) {}

  /** The conversation's members if `userId` is one; not_found / forbidden otherwise. */
  async requireMember(conversationId: string, userId: string): Promise<ConversationMembers> {
    return checkMember(await this.d.membership.get(conversationId), userId);
  }

  async create(creatorId: string, body: CreateConversationBody): Promise<{ conversation: Conversation; created: boolean }> {
    const { memberIds, title } = checkNewConversation(creatorId, body);
    const found = await this.d.store.usersByIds(memberIds);
    if (found.length !== memberIds.length) {
      const known = new Set(found.map((u) => u.id));
      throw notFound(`No such user: ${memberIds.find((id) => !known.has(id))}.`);
    }
    const { conversation, created } = await this.d.store.createConversation({
      type: body.type,
      title,
      ownerId: body.type === 'group' ? creatorId : null,
      memberIds,
      createdAt: this.d.now(),
    });
    if (created) {
      await this.d.membership.invalidate(conversation.id);
      await this.announce(conversation.id, memberIds, 'conversation:new');
    }
    return { conversation: await this.viewFor(conversation.id, creatorId), created };
  }

  /** One conversation as `viewerId` sees it. */
  async get(conversationId: string, viewerId: string): Promise<Conversation> {
    await this.requireMember(conversationId, viewerId);
    return this.viewFor(conversationId, viewerId);
  }

  async list(viewerId: string, opts: ListOptions): Promise<{ conversations: Conversation[]; nextCursor: string | null }> {
    // One more than asked tells whether there is a next page.
    const items = await this.d.store.listConversations({
      userId: viewerId,
      archived: opts.archived ?? false,
      limit: opts.limit + 1,
      before: opts.cursor ? decodeCursor(opts.cursor) : undefined,
    });
    const page = items.slice(0, opts.limit);
    const conversations = await this.views(viewerId, page.map((i) => i.conversation));
    const last = page[page.length - 1];
    return { conversations, nextCursor: items.length > opts.limit && last ? encodeCursor(last.conversation) : null };
  }

  async updateTitle(conversationId: string, actorId: string, title: string): Promise<Conversation> {
    const c = await this.requireMember(conversationId, actorId);
    if (c.type !== 'group') throw validation('Only a group has a title.');
    const updated = await this.d.store.updateTitle(conversationId, title.trim());
    if (!updated) throw notFound('No such conversation.');
    await this.announce(conversationId, c.members, 'conversation:updated');
    return this.viewFor(conversationId, actorId);
  }

  /** Adds a member to a group; `added` is false when they already were one. */
  async addMember(conversationId: string, actorId: string, userId: string): Promise<{ conversation: Conversation; added: boolean }> {
    const c = await this.requireMember(conversationId, actorId);
    checkCanAddMember(c);
    if (c.members.has(userId)) return { conversation: await this.viewFor(conversationId, actorId), added: false };
    if (!(await this.d.store.userById(userId))) throw notFound('No such user.');
    // Invalidated whatever the write answered: a lost COMMIT may still have applied it.
    const added = await this.d.store.addMember(conversationId, userId, this.d.now()).finally(() => this.d.membership.invalidate(conversationId));
    if (added) {
      await this.announce(conversationId, [userId], 'conversation:new');
      await this.announce(conversationId, c.members, 'conversation:updated');
    }
    return { conversation: await this.viewFor(conversationId, actorId), added };
  }

  async removeMember(conversationId: string, actorId: string, userId: string): Promise<void> {
    const c = await this.requireMember(conversationId, actorId);
    checkCanRemoveMember(c, actorId, userId);
    // Invalidated whatever the write answered: a lost COMMIT may still have applied it.
    await this.d.store.removeMember(conversationId, userId).finally(() => this.d.membership.invalidate(conversationId));
    this.d.events.unsubscribe(userId, conversationId);
    this.d.events.toUsers([userId], 'conversation:removed', { conversationId });
    const remaining = [...c.members].filter((id) => id !== userId);
    await this.announce(conversationId, remaining, 'conversation:updated');
  }

  async setArchived(conversationId: string, userId: string, archived: boolean): Promise<Conversation> {
    await this.requireMember(conversationId, userId);
    await this.d.store.setArchived(conversationId, userId, archived);
    return this.viewFor(conversationId, userId);
  }

  /**
   * Replaces the caller's notification preferences for the conversation
   * (contract v1.1): theirs alone, so only their own sockets hear of it.
   * `mutedUntil` is ISO-8601 with `Z` or an offset, or null.
   */
  async setNotifications(conversationId: string, userId: string, level: NotifyLevel, mutedUntil: string | null | undefined): Promise<Conversation> {
    const until = mutedUntil === undefined || mutedUntil === null ? null : parseInstant(mutedUntil);
    if (until === undefined) throw validation('mutedUntil is an ISO-8601 time with Z or an offset, or null.');
    await this.requireMember(conversationId, userId);
    if (!(await this.d.store.setNotifications(conversationId, userId, level, until))) throw forbidden('You are not a member of this conversation.');
    const view = await this.viewFor(conversationId, userId);
    this.d.events.toUsers([userId], 'conversation:updated', { conversation: view });
    return view;
  }

  // ---- views ----------------------------------------------------------------

  private async viewFor(conversationId: string, viewerId: string): Promise<Conversation> {
    const conversation = await this.d.store.conversationById(conversationId);
    if (!conversation) throw notFound('No such conversation.');
    const [view] = await this.views(viewerId, [conversation]);
    if (!view) throw forbidden('You are not a member of this conversation.');
    return view;
  }

  /**
   * Sends `event` with each recipient's own view of the conversation. The
   * shared part (members, last message, status) is built once; recipients
   * whose own fields (unread count, archived) are equal share one emit, so
   * one encoding.
   */
  private async announce(
    conversationId: string,
    recipients: Iterable<string>,
    event: 'conversation:new' | 'conversation:updated',
  ): Promise<void> {
    const [conversation, members] = await Promise.all([
      this.d.store.conversationById(conversationId),
      this.d.store.members(conversationId),
    ]);
    if (!conversation) return;
    const byUser = new Map(members.map((m) => [m.userId, m]));
    const targets = [...new Set(recipients)].filter((id) => byUser.has(id));
    if (targets.length === 0) return;
    const [users, lastMessages] = await Promise.all([
      this.d.store.usersByIds(members.map((m) => m.userId)),
      this.d.store.lastMessages([conversation]),
    ]);
    const groups = new Map<string, { viewer: MemberRecord; unreadCount: number; unreadMentions: number; userIds: string[] }>();
    const lastHasFiles = (lastMessages.get(conversationId)?.attachments.length ?? 0) > 0;
    for (const userId of targets) {
      const viewer = byUser.get(userId) as MemberRecord;
      const marker = [{ conversationId, afterSeq: viewer.readSeq }];
      const [unreadCount, unreadMentions] =
        viewer.readSeq >= conversation.lastSeq
          ? [0, 0]
          : await Promise.all([
              this.d.store.unreadCounts(userId, marker).then((m) => m.get(conversationId) ?? 0),
              this.d.store.unreadMentions(userId, marker).then((m) => m.get(conversationId) ?? 0),
            ]);
      // (A last message with files carries URLs for each viewer: one view each.)
      const key = `${unreadCount}:${unreadMentions}:${viewer.archived}:${viewer.notifyLevel}:${viewer.mutedUntil}:${lastHasFiles ? userId : ''}`;
      const group = groups.get(key);
      if (group) group.userIds.push(userId);
      else groups.set(key, { viewer, unreadCount, unreadMentions, userIds: [userId] });
    }
    const shared = {
      conversation,
      members,
      users: new Map(users.map((u) => [u.id, u])),
      lastMessage: lastMessages.get(conversationId) ?? null,
      status: new StatusOracle(members),
      urls: this.d.urls ?? BARE_URLS,
    };
    const online = await this.d.presence.onlineAmong(members.map((m) => m.userId));
    for (const { viewer, unreadCount, unreadMentions, userIds } of groups.values()) {
      const view = conversationView({ ...shared, viewer, unreadCount, unreadMentions }, online);
      this.d.events.toUsers(userIds, event, { conversation: view });
    }
  }


  /**
   * The wire views of many conversations as `viewerId` sees them, with a fixed
   * number of queries; conversations the viewer is not in are left out.
   */
  async views(viewerId: string, conversations: readonly ConversationRecord[]): Promise<Conversation[]> {
    if (conversations.length === 0) return [];
    const memberRows = await this.d.store.membersOf(conversations.map((c) => c.id));
    const byConversation = new Map<string, MemberRecord[]>();
    for (const m of memberRows) {
      const list = byConversation.get(m.conversationId);
      if (list) list.push(m);
      else byConversation.set(m.conversationId, [m]);
    }
    const visible: { conversation: ConversationRecord; viewer: MemberRecord; members: MemberRecord[] }[] = [];
    for (const conversation of conversations) {
      const members = byConversation.get(conversation.id) ?? [];
      const viewer = members.find((m) => m.userId === viewerId);
      if (viewer) visible.push({ conversation, viewer, members });
    }
    const memberIds = [...new Set(memberRows.map((m) => m.userId))];
    const markers = visible.map((v) => ({ conversationId: v.conversation.id, afterSeq: v.viewer.readSeq }));
    const [lastMessages, unread, mentions, users, online] = await Promise.all([
      this.d.store.lastMessages(visible.map((v) => v.conversation)),
      this.d.store.unreadCounts(viewerId, markers),
      this.d.store.unreadMentions(viewerId, markers),
      this.d.store.usersByIds(memberIds),
      this.d.presence.onlineAmong(memberIds),
    ]);
    const usersById = new Map<string, UserRecord>(users.map((u) => [u.id, u]));
    return visible.map(({ conversation, viewer, members }) =>
      conversationView(
        {
          conversation,
          viewer,
          members,
          users: usersById,
          lastMessage: lastMessages.get(conversation.id) ?? null,
          unreadCount: unread.get(conversation.id) ?? 0,
          unreadMentions: mentions.get(conversation.id) ?? 0,
          status: new StatusOracle(members),
          urls: this.d.urls ?? BARE_URLS,
        },
        online,
      ),
    );
  }
}
