import { Type, type Static } from 'typebox';
import type { AckError } from './errors.js';
import { LIMITS } from './limits.js';
import { Conversation, Id, IsoTime, Message } from './models.js';
import { ClientKey, Text } from './http.js';

/** Socket payloads, client → server. Extra properties are ignored. */
export const SendPayload = Type.Object({
  conversationId: Id,
  /** With attachments, content may be "" or left out (the domain checks: otherwise required). */
  content: Type.Optional(Type.Union([Text(LIMITS.contentMax), Type.Literal('')])),
  /** Uploads to send with it (contract v1.1): 1–10 distinct ids, in this order. */
  attachmentIds: Type.Optional(Type.Array(Id, { minItems: 1, maxItems: LIMITS.attachmentsPerMessage, uniqueItems: true })),
  clientId: Type.Optional(Type.Union([ClientKey(LIMITS.clientIdMax), Type.Null()])),
  /**
   * A reply to this message of the same conversation. Checked after the
   * clientId repeat check (a repeat answers the original whatever this is),
   * so any value passes the schema: anything but an id of the conversation
   * is `validation` there.
   */
  replyToId: Type.Optional(Type.Unknown()),
});
export type SendPayload = Static<typeof SendPayload>;

/** `reaction:add` / `reaction:remove`: one emoji (domain/emoji.ts). */
export const ReactionPayload = Type.Object({ messageId: Id, emoji: Type.String({ maxLength: 64 }) });
export type ReactionPayload = Static<typeof ReactionPayload>;

export const EditPayload = Type.Object({ messageId: Id, content: Text(LIMITS.contentMax) });
export type EditPayload = Static<typeof EditPayload>;
export const DeletePayload = Type.Object({ messageId: Id });
export type DeletePayload = Static<typeof DeletePayload>;

export const JoinPayload = Type.Object({
  conversationId: Id,
  afterSeq: Type.Optional(Type.Integer({ minimum: 0 })),
  limit: Type.Optional(Type.Integer({ minimum: LIMITS.history.min, maximum: LIMITS.history.max })),
});
export type JoinPayload = Static<typeof JoinPayload>;

export const LeavePayload = Type.Object({ conversationId: Id });
export type LeavePayload = Static<typeof LeavePayload>;

export const TypingPayload = Type.Object({ conversationId: Id, isTyping: Type.Boolean() });
export type TypingPayload = Static<typeof TypingPayload>;

/** `message:delivered` and `message:read`: the marker moves up to `seq`. */
export const MarkerPayload = Type.Object({ conversationId: Id, seq: Type.Integer({ minimum: 1 }) });
export type MarkerPayload = Static<typeof MarkerPayload>;

/** Per conversation, the `rev` up to which the client has applied every change (0 for none; protocol.md, the sync cursor). */
export const SyncPayload = Type.Object({
  cursors: Type.Record(Type.String({ minLength: 1, maxLength: 64 }), Type.Integer({ minimum: 0 })),
  limit: Type.Optional(Type.Integer({ minimum: LIMITS.sync.min, maximum: LIMITS.sync.max })),
});
export type SyncPayload = Static<typeof SyncPayload>;

/** Acknowledgement bodies on success. */
export interface SendAck { ok: true; message: Message }
export interface JoinAck { ok: true; messages: Message[]; lastSeq: number; hasMore: boolean }
export interface OkAck { ok: true }
export interface SyncAck { ok: true; messages: Message[]; conversations: Conversation[]; hasMore: boolean }

export type Ack<T> = T | AckError;
type Handler<P, A> = (payload: P, ack: (answer: Ack<A>) => void) => void;

/** Every client → server event with its payload and acknowledgement. */
export interface ClientToServerEvents {
  'message:send': Handler<SendPayload, SendAck>;
  message: Handler<SendPayload, SendAck>;
  'conversation:join': Handler<JoinPayload, JoinAck>;
  'conversation:leave': Handler<LeavePayload, OkAck>;
  typing: Handler<TypingPayload, OkAck>;
  'message:delivered': Handler<MarkerPayload, OkAck>;
  'message:read': Handler<MarkerPayload, OkAck>;
  sync: Handler<SyncPayload, SyncAck>;
  'message:edit': Handler<EditPayload, SendAck>;
  'message:delete': Handler<DeletePayload, SendAck>;
  'reaction:add': Handler<ReactionPayload, SendAck>;
  'reaction:remove': Handler<ReactionPayload, SendAck>;
}

export const MessageEvent = Type.Object({ message: Message });
export type MessageEvent = Static<typeof MessageEvent>;
export const ConversationEvent = Type.Object({ conversation: Conversation });
export type ConversationEvent = Static<typeof ConversationEvent>;
export const ConversationRemovedEvent = Type.Object({ conversationId: Id });
export type ConversationRemovedEvent = Static<typeof ConversationRemovedEvent>;

export const ReceiptType = Type.Union([Type.Literal('delivered'), Type.Literal('read')]);
export type ReceiptType = Static<typeof ReceiptType>;

export const TypingEvent = Type.Object({ conversationId: Id, userId: Id, isTyping: Type.Boolean() });
export type TypingEvent = Static<typeof TypingEvent>;
export const ReceiptEvent = Type.Object({
  conversationId: Id,
  userId: Id,
  seq: Type.Integer({ minimum: 1 }),
  type: ReceiptType,
  at: IsoTime,
});
export type ReceiptEvent = Static<typeof ReceiptEvent>;
export const PresenceEvent = Type.Object({
  userId: Id,
  online: Type.Boolean(),
  lastSeenAt: Type.Union([IsoTime, Type.Null()]),
});
export type PresenceEvent = Static<typeof PresenceEvent>;

/** Every server → client event with its payload. */
export interface ServerToClientEvents {
  'message:new': (event: MessageEvent) => void;
  'message:updated': (event: MessageEvent) => void;
  typing: (event: TypingEvent) => void;
  receipt: (event: ReceiptEvent) => void;
  presence: (event: PresenceEvent) => void;
  'conversation:new': (event: ConversationEvent) => void;
  'conversation:updated': (event: ConversationEvent) => void;
  'conversation:removed': (event: ConversationRemovedEvent) => void;
}

/** The socket handshake: `auth: {token}` (or a `token` query parameter). */
export interface HandshakeAuth { token?: string }

/**
 * Between nodes (through the cluster adapter, never to clients): a node that
 * changed a conversation's membership tells the others to forget their cached
 * copy, and waits for each to answer before it answers its client.
 */
export interface InterServerEvents {
  'parley:membership': (conversationId: string, done: (ok: boolean) => void) => void;
  /** Redis is back after an outage in which events may not have crossed nodes: every node's clients resync. */
  'parley:resync': () => void;
}
