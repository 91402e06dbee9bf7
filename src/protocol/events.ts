import { Type, type Static } from 'typebox';
import type { AckError } from './errors.js';
import { LIMITS } from './limits.js';
import { Conversation, Id, Message } from './models.js';
import { Text } from './http.js';

/** Socket payloads, client → server. Extra properties are ignored. */
export const SendPayload = Type.Object({
  conversationId: Id,
  content: Text(LIMITS.contentMax),
  clientId: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: LIMITS.clientIdMax }), Type.Null()])),
});
export type SendPayload = Static<typeof SendPayload>;

export const JoinPayload = Type.Object({
  conversationId: Id,
  afterSeq: Type.Optional(Type.Integer({ minimum: 0 })),
  limit: Type.Optional(Type.Integer({ minimum: LIMITS.history.min, maximum: LIMITS.history.max })),
});
export type JoinPayload = Static<typeof JoinPayload>;

export const LeavePayload = Type.Object({ conversationId: Id });
export type LeavePayload = Static<typeof LeavePayload>;

/** Acknowledgement bodies on success. */
export interface SendAck { ok: true; message: Message }
export interface JoinAck { ok: true; messages: Message[]; lastSeq: number; hasMore: boolean }
export interface OkAck { ok: true }

export type Ack<T> = T | AckError;
type Handler<P, A> = (payload: P, ack: (answer: Ack<A>) => void) => void;

/** Every client → server event with its payload and acknowledgement. */
export interface ClientToServerEvents {
  'message:send': Handler<SendPayload, SendAck>;
  message: Handler<SendPayload, SendAck>;
  'conversation:join': Handler<JoinPayload, JoinAck>;
  'conversation:leave': Handler<LeavePayload, OkAck>;
}

export const MessageEvent = Type.Object({ message: Message });
export type MessageEvent = Static<typeof MessageEvent>;
export const ConversationEvent = Type.Object({ conversation: Conversation });
export type ConversationEvent = Static<typeof ConversationEvent>;
export const ConversationRemovedEvent = Type.Object({ conversationId: Id });
export type ConversationRemovedEvent = Static<typeof ConversationRemovedEvent>;

/** Every server → client event with its payload. */
export interface ServerToClientEvents {
  'message:new': (event: MessageEvent) => void;
  'conversation:new': (event: ConversationEvent) => void;
  'conversation:updated': (event: ConversationEvent) => void;
  'conversation:removed': (event: ConversationRemovedEvent) => void;
}

/** The socket handshake: `auth: {token}` (or a `token` query parameter). */
export interface HandshakeAuth { token?: string }
