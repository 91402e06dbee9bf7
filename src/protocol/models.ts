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
});
export type Message = Static<typeof Message>;

export const ConversationType = Type.Union([Type.Literal('direct'), Type.Literal('group')]);
export type ConversationType = Static<typeof ConversationType>;

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
  archived: Type.Boolean(),
  createdAt: IsoTime,
});
export type Conversation = Static<typeof Conversation>;
