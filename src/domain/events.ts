import type { ServerToClientEvents } from '../protocol/events.js';

export type ServerEvent = keyof ServerToClientEvents;
export type EventPayload<E extends ServerEvent> = Parameters<ServerToClientEvents[E]>[0];

/**
 * Where the domain sends events once the write they announce has committed.
 * The fan-out module implements it over Socket.IO rooms (and, with several
 * nodes, over the cluster adapter); tests may record it.
 */
export interface EventSink {
  /** To every connected socket of these users, but `exceptSocket`. */
  toUsers<E extends ServerEvent>(
    userIds: Iterable<string>,
    event: E,
    payload: EventPayload<E>,
    exceptSocket?: string,
  ): void;
  /** To the sockets that joined the conversation, but every socket of `exceptUser`. */
  toConversation<E extends ServerEvent>(conversationId: string, event: E, payload: EventPayload<E>, exceptUser?: string): void;
  /** Every socket of the user stops hearing the conversation's room (removed from it). */
  unsubscribe(userId: string, conversationId: string): void;
  /** Every socket opened with a token of these sessions is disconnected, on every node (revoked). */
  disconnectSessions(sessionIds: readonly string[]): void;
}
