/**
 * Rows as both stores read them (integer keys, epoch-ms times, flags as 0/1)
 * and their mapping to the Store's records with wire ids.
 */
import { LIMITS } from '../protocol/limits.js';
import { decodeId, encodeId } from './ids.js';
import type {
  ConversationListItem,
  ConversationRecord,
  MarkerMove,
  MarkerOutcome,
  MarkerType,
  MemberRecord,
  NotifyLevel,
  PushSubscriptionRecord,
  NotificationJob,
  NewNotification,
  NotifyChannel,
  AttachmentRecord,
  MessageRecord,
  ReplyRecord,
  StoredAttachment,
  UserRecord,
} from './store.js';

export interface UserRow {
  id: number;
  username: string;
  display_name: string;
  password_hash: string;
  created_at: number;
  last_seen_at: number | null;
  notification_previews: number;
}
export interface PushSubscriptionRow {
  id: number;
  user_id: number;
  session_id: number;
  endpoint: string;
  p256dh: string;
  auth: string;
  created_at: number;
}
export interface NotificationJobRow {
  id: number;
  claimed_until: number;
  recipient_id: number;
  conversation_id: number;
  channel: number;
  first_seq: number;
  last_seq: number;
  attempts: number;
  due_at: number;
  direct: number;
}
export interface ConversationRow {
  id: number;
  type: 'direct' | 'group';
  title: string | null;
  owner_id: number | null;
  last_seq: number;
  last_rev: number;
  created_at: number;
  last_activity_at: number;
  activity: number;
}
export interface MemberRow {
  conversation_id: number;
  user_id: number;
  joined_at: number;
  delivered_seq: number;
  read_seq: number;
  archived: number;
  notify_level: number;
  muted_until: number | null;
}
export interface MessageRow {
  id: number;
  conversation_id: number;
  seq: number;
  rev: number;
  sender_id: number;
  content: string;
  client_id: string | null;
  created_at: number;
  edited_at: number | null;
  deleted_at: number | null;
  /** The message this one replies to (a key). */
  reply_to_id: number | null;
  /** JSON user keys (parseMentions); null: none. */
  mentions: string | null;
  /** JSON (parseReactions); null: none. */
  reactions: string | null;
  /** JSON (parseAttachments); null: none. */
  attachments: string | null;
}

/** An attachment row (both stores). */
export interface AttachmentRow {
  id: number;
  conversation_id: number;
  uploader_id: number;
  message_id: number | null;
  name: string;
  mime: string;
  size: number;
  width: number | null;
  height: number | null;
  blob_key: string;
  thumbnail_key: string | null;
  thumbnail_mime: string | null;
  created_at: number;
}

export const ATTACHMENT_COLS =
  'id, conversation_id, uploader_id, message_id, name, mime, size, width, height, blob_key, thumbnail_key, thumbnail_mime, created_at';

export const toAttachment = (r: AttachmentRow): AttachmentRecord => ({
  id: encodeId('a', r.id),
  conversationId: encodeId('c', r.conversation_id),
  uploaderId: encodeId('u', r.uploader_id),
  messageId: r.message_id === null ? null : encodeId('m', r.message_id),
  name: r.name,
  mime: r.mime,
  size: Number(r.size),
  width: r.width,
  height: r.height,
  blobKey: r.blob_key,
  thumbnailKey: r.thumbnail_key,
  thumbnailMime: r.thumbnail_mime,
  createdAt: Number(r.created_at),
});

/** A message's attachments as its row holds them (JSON, in order; attachment keys). */
type StoredAttachmentJson = { id: number; name: string; mime: string; size: number; width: number | null; height: number | null; thumbnail: boolean };

/** The file names in a message row's `attachments` (what search also matches). */
export const attachmentNames = (json: string | null): string[] =>
  json === null ? [] : (JSON.parse(json) as StoredAttachmentJson[]).map((a) => a.name);

export const attachmentsJson = (rows: readonly AttachmentRow[]): string | null =>
  rows.length
    ? JSON.stringify(
        rows.map((r): StoredAttachmentJson => ({
          id: r.id,
          name: r.name,
          mime: r.mime,
          size: Number(r.size),
          width: r.width,
          height: r.height,
          thumbnail: r.thumbnail_key !== null,
        })),
      )
    : null;

export const parseAttachments = (json: string | null): StoredAttachment[] =>
  json ? (JSON.parse(json) as StoredAttachmentJson[]).map((a) => ({ ...a, id: encodeId('a', a.id) })) : [];

/**
 * Which attachments a new message may take: its `attachmentIds` in order,
 * each an upload (row) of the sender to this conversation that no message
 * uses, nor an earlier item of the batch (`taken`). Null: not so.
 */
export function pickAttachments(
  ids: readonly string[],
  rows: ReadonlyMap<number, AttachmentRow>,
  conversation: number,
  sender: number,
  taken: Set<number>,
): AttachmentRow[] | null {
  const out: AttachmentRow[] = [];
  for (const id of ids) {
    const key = decodeId('a', id);
    const row = key === null ? undefined : rows.get(key);
    if (!row || row.conversation_id !== conversation || row.uploader_id !== sender || row.message_id !== null || taken.has(row.id)) return null;
    if (out.includes(row)) return null;
    out.push(row);
  }
  for (const r of out) taken.add(r.id);
  return out;
}

export const toUser = (r: UserRow): UserRecord => ({
  id: encodeId('u', r.id),
  username: r.username,
  displayName: r.display_name,
  passwordHash: r.password_hash,
  createdAt: r.created_at,
  lastSeenAt: r.last_seen_at,
  notificationPreviews: Number(r.notification_previews) !== 0,
});
/** New entries as rows to upsert: one per key (the highest seq, the earliest due time). */
export function notificationRows(entries: readonly NewNotification[]): { r: number; c: number; ch: number; seq: number; due: number; direct: number }[] {
  const byKey = new Map<string, { r: number; c: number; ch: number; seq: number; due: number; direct: number }>();
  for (const e of entries) {
    const r = decodeId('u', e.recipientId);
    const c = decodeId('c', e.conversationId);
    if (r === null || c === null) continue;
    const k = { r, c, ch: NOTIFY_CHANNELS.indexOf(e.channel) };
    // A push: one per recipient and conversation. A webhook entry: one per message.
    const id = e.channel === 'push' ? `${r}:${c}:push` : `${r}:${c}:webhook:${e.seq}`;
    const had = byKey.get(id);
    if (had) {
      had.seq = Math.max(had.seq, e.seq);
      had.due = Math.min(had.due, e.dueAt);
    } else byKey.set(id, { ...k, seq: e.seq, due: e.dueAt, direct: e.direct ? 1 : 0 });
  }
  return [...byKey.values()];
}

/** How notification channels are stored (notification_jobs.channel). */
export const NOTIFY_CHANNELS: readonly NotifyChannel[] = ['webhook', 'push'];
export const toNotificationJob = (r: NotificationJobRow): NotificationJob => ({
  id: encodeId('n', r.id),
  claimedUntil: Number(r.claimed_until),
  recipientId: encodeId('u', r.recipient_id),
  conversationId: encodeId('c', r.conversation_id),
  channel: NOTIFY_CHANNELS[r.channel] ?? 'webhook',
  firstSeq: Number(r.first_seq),
  lastSeq: Number(r.last_seq),
  attempts: Number(r.attempts),
  dueAt: Number(r.due_at),
  direct: Number(r.direct) === 1,
});
export const toPushSubscription = (r: PushSubscriptionRow): PushSubscriptionRecord => ({
  id: encodeId('p', r.id),
  userId: encodeId('u', r.user_id),
  sessionId: encodeId('s', r.session_id),
  endpoint: r.endpoint,
  p256dh: r.p256dh,
  auth: r.auth,
  createdAt: Number(r.created_at),
});
export const toConversation = (r: ConversationRow): ConversationRecord => ({
  id: encodeId('c', r.id),
  type: r.type,
  title: r.title,
  ownerId: r.owner_id === null ? null : encodeId('u', r.owner_id),
  lastSeq: r.last_seq,
  lastRev: r.last_rev,
  createdAt: r.created_at,
  lastActivityAt: r.last_activity_at,
  activity: r.activity,
});
export const toMember = (r: MemberRow): MemberRecord => ({
  conversationId: encodeId('c', r.conversation_id),
  userId: encodeId('u', r.user_id),
  joinedAt: r.joined_at,
  deliveredSeq: r.delivered_seq,
  readSeq: r.read_seq,
  archived: r.archived === 1,
  notifyLevel: NOTIFY_LEVELS[r.notify_level] ?? 'all',
  mutedUntil: r.muted_until === null ? null : Number(r.muted_until),
});

/** How notification levels are stored (members.notify_level). */
export const NOTIFY_LEVELS: readonly NotifyLevel[] = ['all', 'mentions', 'none'];
export const notifyLevelCode = (level: NotifyLevel): number => NOTIFY_LEVELS.indexOf(level);
/**
 * A message row to its record; `targets` holds the rows of the messages
 * replied to (replyTargets), read with it: the quote is the target as it
 * is now.
 */
export const toMessage = (r: MessageRow, targets?: ReadonlyMap<number, ReplyTargetRow>): MessageRecord => {
  const target = r.reply_to_id === null ? undefined : targets?.get(r.reply_to_id);
  return {
    id: encodeId('m', r.id),
    conversationId: encodeId('c', r.conversation_id),
    seq: r.seq,
    rev: r.rev,
    senderId: encodeId('u', r.sender_id),
    content: r.content,
    clientId: r.client_id,
    createdAt: r.created_at,
    editedAt: r.edited_at,
    deletedAt: r.deleted_at,
    replyTo: target ? toReply(target) : null,
    mentions: parseMentions(r.mentions).map((k) => encodeId('u', k)),
    reactions: parseReactions(r.reactions).map(([emoji, users]) => ({ emoji, userIds: users.map((k) => encodeId('u', k)) })),
    attachments: parseAttachments(r.attachments),
  };
};

/** The keys of the messages these rows reply to (to read as ReplyTargetRows), each once. */
export const replyTargetKeys = (rows: readonly { reply_to_id: number | null }[]): number[] => [
  ...new Set(rows.flatMap((r) => (r.reply_to_id === null ? [] : [r.reply_to_id]))),
];

/** A reply's target as read with the reply (any message; deleted ones too). */
export interface ReplyTargetRow {
  id: number;
  seq: number;
  sender_id: number;
  content: string;
  deleted_at: number | null;
}

/** The first LIMITS.replyPreview code points of a content. */
export function replyPreview(content: string): string {
  let out = '';
  let n = 0;
  for (const ch of content) {
    if (n++ === LIMITS.replyPreview) break;
    out += ch;
  }
  return out;
}

const toReply = (t: ReplyTargetRow): ReplyRecord => ({
  id: encodeId('m', t.id),
  seq: t.seq,
  senderId: encodeId('u', t.sender_id),
  preview: t.deleted_at === null ? replyPreview(t.content) : '',
  deleted: t.deleted_at !== null,
});

/**
 * Reactions as a message row holds them (`reactions`, JSON): each emoji
 * with the keys of its users, in the order added. Null: none.
 */
export type StoredReactions = [emoji: string, users: number[]][];

export const parseReactions = (json: string | null): StoredReactions => (json ? (JSON.parse(json) as StoredReactions) : []);
export const reactionsJson = (r: StoredReactions): string | null => (r.length ? JSON.stringify(r) : null);
/** Mentions as a message row holds them (`mentions`, JSON user keys). Null: none. */
export const parseMentions = (json: string | null): number[] => (json ? (JSON.parse(json) as number[]) : []);
export const mentionsJson = (keys: readonly number[]): string | null => (keys.length ? JSON.stringify(keys) : null);

/**
 * A reaction added or removed, the rule of every store: a user has at most
 * one of each emoji; an emoji whose last user leaves is dropped (added
 * again, it comes last); a new emoji beyond LIMITS.reactionsPerMessage is
 * refused. `next` null: nothing changes.
 */
export function nextReactions(current: StoredReactions, emoji: string, user: number, add: boolean): { next: StoredReactions | null } | 'too_many' {
  const at = current.findIndex(([e]) => e === emoji);
  if (add) {
    if (at === -1) {
      if (current.length >= LIMITS.reactionsPerMessage) return 'too_many';
      return { next: [...current, [emoji, [user]]] };
    }
    const users = current[at]![1];
    if (users.includes(user)) return { next: null };
    return { next: current.map((r, i) => (i === at ? [emoji, [...users, user]] : r)) };
  }
  if (at === -1 || !current[at]![1].includes(user)) return { next: null };
  const users = current[at]![1].filter((u) => u !== user);
  return { next: users.length ? current.map((r, i) => (i === at ? [emoji, users] : r)) : current.filter((_, i) => i !== at) };
}

/**
 * The members a message mentions: those whose lower-cased username is among
 * `names` (mentionCandidates), in the order of `names`, each once.
 */
export function resolveMentions(names: readonly string[] | undefined, members: ReadonlyMap<string, number>): number[] {
  const out: number[] = [];
  for (const name of names ?? []) {
    const key = members.get(name);
    if (key !== undefined && !out.includes(key)) out.push(key);
  }
  return out;
}

/** Keys of the ids that decode; ids that cannot exist are dropped. */
export function keys(kind: 'u' | 'c', ids: readonly string[]): number[] {
  const out: number[] = [];
  for (const id of ids) {
    const k = decodeId(kind, id);
    if (k !== null) out.push(k);
  }
  return out;
}

/** A row of a user's conversation list: the conversation with the user's own membership (m_ columns). */
export type ListRow = ConversationRow & {
  m_joined_at: number;
  m_delivered_seq: number;
  m_read_seq: number;
  m_archived: number;
  m_notify_level: number;
  m_muted_until: number | null;
};

export const toListItem = (r: ListRow, userId: string): ConversationListItem => ({
  conversation: toConversation(r),
  membership: {
    conversationId: encodeId('c', r.id),
    userId,
    joinedAt: r.m_joined_at,
    deliveredSeq: r.m_delivered_seq,
    readSeq: r.m_read_seq,
    archived: r.m_archived === 1,
    notifyLevel: NOTIFY_LEVELS[r.m_notify_level] ?? 'all',
    mutedUntil: r.m_muted_until === null ? null : Number(r.m_muted_until),
  },
});

/** How marker types are stored (marker_moves.type). */
export const MARKER_CODE: Record<MarkerType, 0 | 1> = { delivered: 0, read: 1 };

/**
 * Where a move takes a member's markers, the rule of every store: markers
 * only move forward and never past the conversation's lastSeq, and reading
 * implies delivery. `moved` lists the markers that advance.
 */
export function nextMarkers(member: { delivered_seq: number; read_seq: number; last_seq: number }, m: MarkerMove): MarkerOutcome {
  if (m.seq > member.last_seq) return { kind: 'beyond_last_seq', lastSeq: member.last_seq };
  const readSeq = m.type === 'read' ? Math.max(member.read_seq, m.seq) : member.read_seq;
  const deliveredSeq = Math.max(member.delivered_seq, readSeq, m.type === 'delivered' ? m.seq : 0);
  const moved: { type: MarkerType; seq: number }[] = [];
  if (deliveredSeq > member.delivered_seq) moved.push({ type: 'delivered', seq: deliveredSeq });
  if (readSeq > member.read_seq) moved.push({ type: 'read', seq: readSeq });
  return moved.length === 0 ? { kind: 'unchanged', deliveredSeq, readSeq } : { kind: 'moved', deliveredSeq, readSeq, moved };
}
