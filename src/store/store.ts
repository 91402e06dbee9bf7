/**
 * The Store: every read and write of Parley's durable state. The domain talks
 * to this interface only; `sqlite/` and `postgres/` implement it.
 *
 * Semantics every implementation keeps:
 * - Each method is atomic: it commits all of its writes or none.
 * - `appendMessages` commits its whole batch in one transaction: either every
 *   outcome is durable when the promise resolves, or it rejects and nothing of
 *   the batch was written. Within a batch, items are applied in order, so
 *   seqs follow the order of the array.
 * - `seq` and `rev` come from the conversation row, bumped in the same
 *   transaction as the insert: gap-free and unique per conversation.
 * - Ids are opaque strings on the way out; an id that is not one the store
 *   could have issued simply finds nothing (null / empty).
 * - Times are epoch milliseconds; the domain turns them into ISO strings.
 */

export interface UserRecord {
  id: string;
  username: string;
  displayName: string;
  passwordHash: string;
  createdAt: number;
  lastSeenAt: number | null;
  /** Whether notifications may show message text (the user's own choice; default true). */
  notificationPreviews: boolean;
}

/** A browser's Web Push subscription (RFC 8030), made in one session of its user. */
export interface PushSubscriptionRecord {
  id: string;
  userId: string;
  sessionId: string;
  endpoint: string;
  /** The browser's P-256 public key and auth secret (base64url), for RFC 8291 encryption. */
  p256dh: string;
  auth: string;
  createdAt: number;
}
export type NewPushSubscription = Omit<PushSubscriptionRecord, 'id'>;

/** How a notification reaches its recipient: the operator's webhook, or the recipient's browsers (Web Push). */
export type NotifyChannel = 'webhook' | 'push';

/**
 * Messages of one conversation to tell one recipient through one channel:
 * those with seqs from `firstSeq` to `lastSeq`. A push job is one per
 * recipient and conversation: a message arriving while it waits extends it,
 * so a busy conversation is one push however many messages it gets. A
 * webhook job is one message (the contract: a POST per message).
 */
export interface NotificationJob {
  id: string;
  /** The claim this job was handed out under: finishing or retrying it needs the same. */
  claimedUntil: number;
  recipientId: string;
  conversationId: string;
  channel: NotifyChannel;
  firstSeq: number;
  lastSeq: number;
  /** Failed deliveries of this job so far. */
  attempts: number;
  dueAt: number;
  /** A direct conversation's: served before groups' (a big group never starves them). */
  direct: boolean;
}
export type NotificationClaim = Pick<NotificationJob, 'id' | 'claimedUntil'>;
export interface NewNotification extends Pick<NotificationJob, 'recipientId' | 'conversationId' | 'channel'> {
  seq: number;
  dueAt: number;
  direct: boolean;
}

export type ConversationKind = 'direct' | 'group';

export interface ConversationRecord {
  id: string;
  type: ConversationKind;
  title: string | null;
  ownerId: string | null;
  lastSeq: number;
  lastRev: number;
  createdAt: number;
  /** Time of the latest activity (creation or last message). */
  lastActivityAt: number;
  /**
   * Orders conversations by latest activity: strictly increasing across the
   * store, so two activities in the same millisecond still have an order.
   */
  activity: number;
}

export interface MemberRecord {
  conversationId: string;
  userId: string;
  joinedAt: number;
  deliveredSeq: number;
  readSeq: number;
  archived: boolean;
  /** The member's own notification preferences for the conversation (contract v1.1). */
  notifyLevel: NotifyLevel;
  /** Until then (ms) only mentions notify; null: not muted. */
  mutedUntil: number | null;
}

export type NotifyLevel = 'all' | 'mentions' | 'none';

export interface MessageRecord {
  id: string;
  conversationId: string;
  seq: number;
  rev: number;
  senderId: string;
  content: string;
  clientId: string | null;
  createdAt: number;
  editedAt: number | null;
  deletedAt: number | null;
  /** The message this one replies to, as it is when read (not when the reply was sent). */
  replyTo: ReplyRecord | null;
  /** Members the content mentions (resolved at send and at each edit), in order of first mention. */
  mentions: string[];
  /** Each emoji with a reaction now, in the order added; its users in the order they reacted. */
  reactions: ReactionRecord[];
  /** Its files, in the order sent (never changed by edits; erased with the message). */
  attachments: StoredAttachment[];
}

/** A file of a message, as the message carries it. */
export interface StoredAttachment {
  id: string;
  name: string;
  mime: string;
  size: number;
  width: number | null;
  height: number | null;
  /** Whether it has a thumbnail. */
  thumbnail: boolean;
}

/** An uploaded file: its bytes are in blob storage under `blobKey` (and `thumbnailKey`). */
export interface AttachmentRecord {
  id: string;
  conversationId: string;
  uploaderId: string;
  /** The message that sent it; null until then. */
  messageId: string | null;
  name: string;
  mime: string;
  size: number;
  width: number | null;
  height: number | null;
  blobKey: string;
  thumbnailKey: string | null;
  thumbnailMime: string | null;
  createdAt: number;
}

export type NewAttachment = Omit<AttachmentRecord, 'id' | 'messageId'>;

/** A reply's quote of its target, read with the reply. */
export interface ReplyRecord {
  id: string;
  seq: number;
  senderId: string;
  /** The first LIMITS.replyPreview code points of the target's content ('' once deleted). */
  preview: string;
  deleted: boolean;
}

export interface ReactionRecord {
  emoji: string;
  userIds: string[];
}

/** A signed-in session: what a token stands for, until it expires or is revoked. */
export interface NewSession {
  userId: string;
  createdAt: number;
  expiresAt: number;
}

export interface NewUser {
  username: string;
  displayName: string;
  passwordHash: string;
  createdAt: number;
}

export interface NewConversation {
  type: ConversationKind;
  title: string | null;
  ownerId: string | null;
  /** Creator first; for a direct conversation, exactly two distinct users. */
  memberIds: string[];
  createdAt: number;
}

export interface NewMessage {
  conversationId: string;
  senderId: string;
  content: string;
  clientId: string | null;
  createdAt: number;
  /**
   * A reply to this message, which must be of the same conversation
   * (deleted or not); any other string (an unknown id, '') stores nothing
   * and answers `no_reply_target`, after the clientId check.
   */
  replyToId?: string | null;
  /** Names the content may mention (lower case, mentionCandidates): those of members then are its mentions. */
  mentionNames?: readonly string[];
  /**
   * Uploads to send with it, in this order: each an upload of the sender to
   * this conversation that no message uses yet (checked after the clientId
   * check); otherwise `bad_attachments` and nothing is stored.
   */
  attachmentIds?: readonly string[];
}

/** What became of one item of an append batch. */
export type AppendOutcome =
  /**
   * `members`: who is a member of the conversation, read in the batch's
   * transaction: the recipients of the message (a member removed before the
   * commit is not among them; one added before it is).
   */
  | { kind: 'stored'; message: MessageRecord; members: readonly string[] }
  /** The same (conversation, sender, clientId) was stored before: the original. */
  | { kind: 'duplicate'; message: MessageRecord }
  | { kind: 'no_conversation' }
  /** The sender is not (any more) a member: checked in the same transaction. */
  | { kind: 'not_member' }
  /** replyToId names no message of the conversation: nothing stored. */
  | { kind: 'no_reply_target' }
  /** An attachment id that is not an unsent upload of the sender to this conversation: nothing stored. */
  | { kind: 'bad_attachments' };

/** A change to a stored message, by `userId`, who must be its sender and a member. */
export type MessageChange =
  /** `mentionNames`: as NewMessage's, resolved against the members at the edit. */
  | { kind: 'edit'; messageId: string; userId: string; content: string; mentionNames?: readonly string[]; at: number }
  /** Erases content, mentions, reactions, the reply's target and the attachments (their blobs go to erasedBlobs). */
  | { kind: 'delete'; messageId: string; userId: string; at: number }
  /**
   * Adds or removes `userId`'s reaction `emoji` (any member, on any message
   * not deleted). A change takes the next rev but no editedAt and is not
   * activity; adding one the user has, or removing one they have not, is
   * `unchanged`. Never waits for the search index.
   */
  | { kind: 'react'; messageId: string; userId: string; emoji: string; add: boolean; at: number };

export type ChangeOutcome =
  /** Applied: the message in its new state, with the conversation's next rev. */
  | { kind: 'changed'; message: MessageRecord }
  /** Deleting a deleted message, or a reaction already as asked: nothing changes. */
  | { kind: 'unchanged'; message: MessageRecord }
  /** No such message, or (edits, deletions) the user is not a member of its conversation. */
  | { kind: 'not_found' }
  | { kind: 'not_sender' }
  /** A reaction by a user who is not a member of the message's conversation. */
  | { kind: 'not_member' }
  /** Editing, or reacting to, a deleted message. */
  | { kind: 'deleted' }
  /** A new emoji on a message that holds LIMITS.reactionsPerMessage already. */
  | { kind: 'too_many_reactions' };

export interface SearchQuery {
  userId: string;
  /** Terms as the user meant them (see parseQuery); every term must match. */
  terms: readonly string[];
  /** Only this conversation (the caller must be a member: checked by the domain). */
  conversationId?: string;
  limit: number;
}

export interface SearchHit {
  message: MessageRecord;
  /** Lower is better. */
  score: number;
}

export interface HistoryPage {
  messages: MessageRecord[];
  hasMore: boolean;
}

export type HistoryQuery =
  | { before: number; limit: number }
  | { after: number; limit: number }
  | { latest: true; limit: number };

export interface ConversationListItem {
  conversation: ConversationRecord;
  membership: MemberRecord;
}

export interface ConversationListQuery {
  userId: string;
  archived: boolean;
  limit: number;
  /** Continue below this `activity` (exclusive). */
  before?: number;
}

export type MarkerType = 'delivered' | 'read';

/** A request to move a member's marker forward to `seq`. */
export interface MarkerMove {
  conversationId: string;
  userId: string;
  type: MarkerType;
  seq: number;
  at: number;
}

/**
 * What became of a marker move. A read marker also carries the delivered
 * marker along (reading implies delivery). `moved` lists the markers that
 * actually advanced, with their new values.
 */
export type MarkerOutcome =
  | { kind: 'moved'; deliveredSeq: number; readSeq: number; moved: { type: MarkerType; seq: number }[] }
  | { kind: 'unchanged'; deliveredSeq: number; readSeq: number }
  | { kind: 'not_member' }
  | { kind: 'beyond_last_seq'; lastSeq: number };

/** When members' markers first reached a seq. */
export interface MarkerTimes {
  delivered: { userId: string; at: number }[];
  read: { userId: string; at: number }[];
}

/**
 * The database cannot be reached (or keeps failing in a way that may pass):
 * nothing of the call was applied (or, for a write that is harmless to
 * repeat, such as setting an archive flag, it may have been: once), and the
 * same call may succeed later.
 * Transports answer `unavailable` with a retry delay.
 */
export class StoreUnavailable extends Error {
  constructor(override readonly cause: unknown) {
    super(`the database is unavailable: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'StoreUnavailable';
  }
}

/** Thrown by a write that would break a uniqueness rule (e.g. a username). */
export class UniqueViolation extends Error {
  constructor(readonly what: string) {
    super(`unique violation: ${what}`);
  }
}

export interface Store {
  /** Resolves when the store answers a trivial query; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;

  // ---- users --------------------------------------------------------------
  /** @throws UniqueViolation('username') when the name is taken, ignoring case. */
  createUser(user: NewUser): Promise<UserRecord>;
  userById(id: string): Promise<UserRecord | null>;
  usersByIds(ids: readonly string[]): Promise<UserRecord[]>;
  /** Case-insensitive exact match. */
  userByUsername(username: string): Promise<UserRecord | null>;
  /** Username or display name starts with `prefix` (lower-cased by the caller). */
  searchUsers(prefix: string, limit: number): Promise<UserRecord[]>;
  updateDisplayName(id: string, displayName: string): Promise<UserRecord | null>;
  /** Whether the user's notifications may show message text; null when there is no such user. */
  setNotificationPreviews(id: string, previews: boolean): Promise<UserRecord | null>;

  // ---- notification queue ---------------------------------------------------
  /**
   * Adds messages to tell (one entry per recipient and channel): a push
   * extends the waiting push job of that recipient and conversation
   * (keeping its due time), or makes one; a webhook entry is a job of its
   * own (the same message twice: once). Durable: it survives a restart, and
   * with PostgreSQL every node serves it.
   */
  enqueueNotifications(entries: readonly NewNotification[]): Promise<void>;
  /**
   * Claims up to `limit` due jobs (due at or before `now`, not claimed or
   * their claim expired) for `leaseMs`: no other claim gets them meanwhile.
   * Direct conversations' first, then the oldest due; of a claim of 4 or
   * more, a quarter goes to groups when they have due jobs.
   */
  claimNotifications(now: number, limit: number, leaseMs: number): Promise<NotificationJob[]>;
  /**
   * Done with a job through `throughSeq`: it is removed, unless messages
   * came meanwhile; then it waits for those only, due at `nextDueAt`.
   */
  finishNotification(claim: NotificationClaim, throughSeq: number, nextDueAt: number): Promise<void>;
  /** The job is tried again from `fromSeq` at `dueAt` (claim released, one more attempt counted). */
  retryNotification(claim: NotificationClaim, fromSeq: number, dueAt: number): Promise<void>;
  /** (Both do nothing when the claim is no longer this one's: it expired and another took the job.) */
  /** Jobs waiting or claimed (for the bound on the queue and metrics). */
  notificationBacklog(): Promise<number>;

  // ---- push subscriptions ---------------------------------------------------
  /**
   * Keeps a subscription, by its endpoint: one the store has (of any user:
   * a browser that signed in as someone else) is replaced. A user keeps at
   * most `maxPerUser`; the oldest go first.
   */
  savePushSubscription(s: NewPushSubscription, maxPerUser: number): Promise<PushSubscriptionRecord>;
  /** Forgets the user's subscription with this endpoint; false when they had none. */
  deletePushSubscription(userId: string, endpoint: string): Promise<boolean>;
  /** Forgets an endpoint whoever it belongs to (the push service said it is gone). */
  forgetPushEndpoint(endpoint: string): Promise<boolean>;
  /** The subscriptions of these users made in sessions still valid at `now` (not revoked, not expired). */
  pushSubscriptionsOf(userIds: readonly string[], now: number): Promise<PushSubscriptionRecord[]>;
  // ---- sessions -------------------------------------------------------------
  /** Records a new session (each sign-in has its own); answers its id. */
  createSession(s: NewSession): Promise<string>;
  /** The user of a session that exists and is not revoked; null otherwise. */
  sessionUser(sessionId: string): Promise<UserRecord | null>;
  /** Revokes a session; false when there was none to revoke (unknown or revoked before). */
  revokeSession(sessionId: string, at: number): Promise<boolean>;
  /**
   * Sets a new password hash and revokes every session of the user but
   * `keepSessionId`, in one transaction; answers the sessions it revoked.
   */
  changePassword(userId: string, passwordHash: string, keepSessionId: string, at: number): Promise<string[]>;
  /**
   * Deletes sessions that expired before `expiredBefore` (their tokens are
   * refused for their age anyway), revoked or not; answers how many. A
   * deleted session's id is never given to a new one.
   */
  pruneSessions(expiredBefore: number): Promise<number>;

  /** Last-seen times of several users, in one transaction (ids that do not exist are ignored). */
  setLastSeen(entries: readonly { userId: string; at: number }[]): Promise<void>;

  // ---- conversations ------------------------------------------------------
  /** A direct conversation that already exists for the pair is returned with created=false. */
  createConversation(c: NewConversation): Promise<{ conversation: ConversationRecord; created: boolean }>;
  conversationById(id: string): Promise<ConversationRecord | null>;
  conversationsByIds(ids: readonly string[]): Promise<ConversationRecord[]>;
  /** Members in the order they joined (longest-standing first, even within one millisecond). */
  members(conversationId: string): Promise<MemberRecord[]>;
  membersOf(conversationIds: readonly string[]): Promise<MemberRecord[]>;
  membership(conversationId: string, userId: string): Promise<MemberRecord | null>;
  /** The user's conversations, latest activity first. */
  listConversations(q: ConversationListQuery): Promise<ConversationListItem[]>;
  updateTitle(conversationId: string, title: string): Promise<ConversationRecord | null>;
  /**
   * Adds a member, with both markers at the conversation's lastSeq (logged as
   * moves at `at`); false when already a member or there is no such
   * conversation or user.
   */
  addMember(conversationId: string, userId: string, at: number): Promise<boolean>;
  /**
   * Removes a member; if they owned the conversation, the longest-standing
   * remaining member becomes the owner (none when nobody remains), in the same
   * transaction. False when they were not a member.
   */
  removeMember(conversationId: string, userId: string): Promise<boolean>;
  setArchived(conversationId: string, userId: string, archived: boolean): Promise<boolean>;
  /** Replaces a member's notification preferences; false when not a member. */
  setNotifications(conversationId: string, userId: string, level: NotifyLevel, mutedUntil: number | null): Promise<boolean>;
  /**
   * The members of the conversation whose preferences are not the default
   * (`all`, never muted), with them: what the notification path filters by.
   */
  quietMembers(conversationId: string): Promise<MemberRecord[]>;

  /** Everyone who shares at least one conversation with the user (not the user). */
  contactsOf(userId: string): Promise<string[]>;
  /** Every conversation the user is a member of, with its change counter. */
  conversationRevs(userId: string): Promise<{ conversationId: string; lastRev: number }[]>;

  // ---- markers ------------------------------------------------------------
  /**
   * One transaction for the batch; markers only move forward, and never past
   * the conversation's lastSeq. Each move that advances is logged with its
   * time (see markerTimes).
   */
  advanceMarkers(batch: readonly MarkerMove[]): Promise<MarkerOutcome[]>;
  /**
   * For these users, when their delivered / read marker first reached `seq`
   * (users whose marker is below it are left out): by a receipt, or by
   * sending a message at or after it. Receipt times are exact to about a
   * second for recent moves; the log keeps a bounded number of records per
   * member, merging the closest in time, so older times may be a little late.
   */
  markerTimes(conversationId: string, seq: number, userIds: readonly string[]): Promise<MarkerTimes>;

  // ---- messages -----------------------------------------------------------
  /** One transaction for the whole batch; see the semantics above. */
  appendMessages(batch: readonly NewMessage[]): Promise<AppendOutcome[]>;
  /**
   * Edits and deletions, one transaction for the batch. Each applied change
   * takes the conversation's next rev; a deletion erases the text from the
   * message and from the search index.
   */
  changeMessages(batch: readonly MessageChange[]): Promise<ChangeOutcome[]>;
  /**
   * Full-text search over the conversations the user is a member of now,
   * best match first; deleted messages are never found. Terms of 3+
   * characters match as substrings; shorter ones as word prefixes (in
   * unspaced scripts, as character sequences). Case and accents are ignored.
   */
  search(q: SearchQuery): Promise<SearchHit[]>;
  /**
   * Messages stored but not yet taken into the search index (for metrics; a
   * search still finds them, reading them directly); 0 where indexing is
   * part of the write.
   */
  indexLag(): number;
  history(conversationId: string, q: HistoryQuery): Promise<HistoryPage>;
  messageById(id: string): Promise<MessageRecord | null>;
  /** Messages whose rev is above `afterRev`, ascending by rev, at most `limit`. */
  changesSince(conversationId: string, afterRev: number, limit: number): Promise<MessageRecord[]>;
  /**
   * Per conversation: messages after `afterSeq` that `userId` did not send
   * and that are not deleted. Sending moves the sender's read marker to its
   * seq, so a caller's own messages are never after their read marker.
   */
  unreadCounts(userId: string, markers: readonly { conversationId: string; afterSeq: number }[]): Promise<Map<string, number>>;
  /** Records an upload (not sent yet). */
  createAttachment(a: NewAttachment): Promise<AttachmentRecord>;
  /** An upload or a sent attachment; null once erased (or never). */
  attachmentById(id: string): Promise<AttachmentRecord | null>;
  /** Erases uploads no message uses, made before `createdBefore` (their blobs go to erasedBlobs); answers how many. */
  expireUploads(createdBefore: number): Promise<number>;
  /** Blob keys of erased attachments whose bytes may still be in blob storage (at most `limit`). */
  erasedBlobs(limit: number): Promise<string[]>;
  /** These blobs are gone from blob storage: forgets them. */
  forgetErasedBlobs(keys: readonly string[]): Promise<void>;
  /** Per conversation, the messages after `afterSeq` that mention the user (deleted ones never do). */
  unreadMentions(userId: string, markers: readonly { conversationId: string; afterSeq: number }[]): Promise<Map<string, number>>;
  /** The message at each given conversation record's `lastSeq` (none for lastSeq 0). */
  lastMessages(conversations: readonly ConversationRecord[]): Promise<Map<string, MessageRecord>>;
}
