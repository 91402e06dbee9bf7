import { Type, type Static } from 'typebox';

/** ISO-8601 UTC time, e.g. 2026-11-24T05:04:10.123Z. */
export const IsoTime = Type.String({ format: 'date-time' });
/** Ids are opaque strings. */
export const Id = Type.String({ minLength: 1, maxLength: 64 });

export const User = Type.Object({
  id: Id,
  username: Type.String(),
  displayName: Type.String(),
  online: Type.Boolean(),
  lastSeenAt: Type.Union([IsoTime, Type.Null()]),
});
export type User = Static<typeof User>;

export const MessageStatus = Type.Union([Type.Literal('sent'), Type.Literal('delivered'), Type.Literal('read')]);
export type MessageStatus = Static<typeof MessageStatus>;

/** A reply's quote of its target, as the target is when the reply is read (contract v1.1). */
export const Reply = Type.Object({
  id: Id,
  seq: Type.Integer({ minimum: 1 }),
  senderId: Id,
  /** The first 100 code points of the target's content now; "" once it is deleted. */
  preview: Type.String(),
  deleted: Type.Boolean(),
});
export type Reply = Static<typeof Reply>;

/** One emoji's reactions to a message: its users in the order they reacted. */
export const Reaction = Type.Object({
  emoji: Type.String({ minLength: 1 }),
  count: Type.Integer({ minimum: 1 }),
  userIds: Type.Array(Id),
});
export type Reaction = Static<typeof Reaction>;

/** A file sent with a message (contract v1.1). */
export const Attachment = Type.Object({
  id: Id,
  name: Type.String(),
  mime: Type.String(),
  size: Type.Integer({ minimum: 1 }),
  width: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
  height: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
  url: Type.String(),
  thumbnailUrl: Type.Union([Type.String(), Type.Null()]),
});
export type Attachment = Static<typeof Attachment>;

export const Message = Type.Object({
  id: Id,
  conversationId: Id,
  seq: Type.Integer({ minimum: 1 }),
  rev: Type.Integer({ minimum: 1 }),
  senderId: Id,
  content: Type.String(),
  clientId: Type.Union([Type.String(), Type.Null()]),
  createdAt: IsoTime,
  editedAt: Type.Union([IsoTime, Type.Null()]),
  deletedAt: Type.Union([IsoTime, Type.Null()]),
  status: MessageStatus,
  replyTo: Type.Union([Reply, Type.Null()]),
  /** Each emoji with a reaction now, in the order added. */
  reactions: Type.Array(Reaction),
  /** Members the content mentions, in order of first mention. */
  mentions: Type.Array(Id),
  attachments: Type.Array(Attachment),
});
export type Message = Static<typeof Message>;

export const ConversationType = Type.Union([Type.Literal('direct'), Type.Literal('group')]);
export type ConversationType = Static<typeof ConversationType>;

export const NotificationLevel = Type.Union([Type.Literal('all'), Type.Literal('mentions'), Type.Literal('none')]);
export type NotificationLevel = Static<typeof NotificationLevel>;

/** The caller's own notification preferences for a conversation (contract v1.1). */
export const NotificationSettings = Type.Object({
  level: NotificationLevel,
  /** Until then only mentions notify (UTC ISO-8601), also once past; null: not muted. */
  mutedUntil: Type.Union([IsoTime, Type.Null()]),
});
export type NotificationSettings = Static<typeof NotificationSettings>;

export const Conversation = Type.Object({
  id: Id,
  type: ConversationType,
  title: Type.Union([Type.String(), Type.Null()]),
  ownerId: Type.Union([Id, Type.Null()]),
  members: Type.Array(User),
  lastMessage: Type.Union([Message, Type.Null()]),
  lastSeq: Type.Integer({ minimum: 0 }),
  lastRev: Type.Integer({ minimum: 0 }),
  unreadCount: Type.Integer({ minimum: 0 }),
  /** Of the unread messages, those that mention the caller. */
  unreadMentions: Type.Integer({ minimum: 0 }),
  archived: Type.Boolean(),
  /** The caller's own: other members never see them. */
  notifications: NotificationSettings,
  createdAt: IsoTime,
});
export type Conversation = Static<typeof Conversation>;
