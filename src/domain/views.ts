import type { Attachment, Conversation, Message, User } from '../protocol/models.js';
import type { ConversationRecord, MemberRecord, MessageRecord, StoredAttachment, UserRecord } from '../store/store.js';
import { attachmentPath, type AttachmentVariant } from './attachment-grants.js';
import type { StatusOracle } from './status.js';

/** Store records → wire shapes. Times become ISO-8601 UTC strings. */
export const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

/** `online`: who is online among the users shown (PresenceRegistry.onlineAmong). */
export function userView(u: UserRecord, online: ReadonlySet<string>): User {
  return {
    id: u.id,
    username: u.username,
    displayName: u.displayName,
    online: online.has(u.id),
    lastSeenAt: isoOrNull(u.lastSeenAt),
  };
}

/** Attachment URLs for a viewer (AttachmentGrants: a signed grant in the query). */
export interface AttachmentUrls {
  url(attachmentId: string, variant: AttachmentVariant, userId: string): string;
}

/** Bare paths, without grants (they take `Authorization: Bearer`): for tools and unit tests. */
export const BARE_URLS: AttachmentUrls = { url: (id, variant) => attachmentPath(id, variant) };

/** Who a view is for: attachment URLs carry a grant for that user. */
export interface Viewer {
  userId: string;
  urls: AttachmentUrls;
}

export function messageView(m: MessageRecord, status: StatusOracle, viewer: Viewer): Message {
  return {
    id: m.id,
    conversationId: m.conversationId,
    seq: m.seq,
    rev: m.rev,
    senderId: m.senderId,
    content: m.content,
    clientId: m.clientId,
    createdAt: iso(m.createdAt),
    editedAt: isoOrNull(m.editedAt),
    deletedAt: isoOrNull(m.deletedAt),
    status: status.statusOf(m.seq, m.senderId),
    replyTo: m.replyTo && { ...m.replyTo },
    reactions: m.reactions.map((r) => ({ emoji: r.emoji, count: r.userIds.length, userIds: [...r.userIds] })),
    mentions: [...m.mentions],
    attachments: m.attachments.map((a) => attachmentView(a, viewer.urls, viewer.userId)),
  };
}

/** An attachment as `viewerId` sees it: its URLs carry a grant of theirs. */
export function attachmentView(a: StoredAttachment, urls: AttachmentUrls, viewerId: string): Attachment {
  return {
    id: a.id,
    name: a.name,
    mime: a.mime,
    size: a.size,
    width: a.width,
    height: a.height,
    url: urls.url(a.id, 'file', viewerId),
    thumbnailUrl: a.thumbnail ? urls.url(a.id, 'thumbnail', viewerId) : null,
  };
}

export interface ConversationParts {
  conversation: ConversationRecord;
  /** The viewer's own membership row. */
  viewer: MemberRecord;
  /** Longest-standing first. */
  members: readonly MemberRecord[];
  users: ReadonlyMap<string, UserRecord>;
  lastMessage: MessageRecord | null;
  unreadCount: number;
  unreadMentions: number;
  status: StatusOracle;
  urls: AttachmentUrls;
}

export function conversationView(p: ConversationParts, online: ReadonlySet<string>): Conversation {
  const c = p.conversation;
  const members: User[] = [];
  for (const m of p.members) {
    const u = p.users.get(m.userId);
    if (u) members.push(userView(u, online));
  }
  return {
    id: c.id,
    type: c.type,
    title: c.title,
    ownerId: c.ownerId,
    members,
    lastMessage: p.lastMessage ? messageView(p.lastMessage, p.status, { userId: p.viewer.userId, urls: p.urls }) : null,
    lastSeq: c.lastSeq,
    lastRev: c.lastRev,
    unreadCount: p.unreadCount,
    unreadMentions: p.unreadMentions,
    archived: p.viewer.archived,
    notifications: { level: p.viewer.notifyLevel, mutedUntil: p.viewer.mutedUntil === null ? null : iso(p.viewer.mutedUntil) },
    createdAt: iso(c.createdAt),
  };
}
