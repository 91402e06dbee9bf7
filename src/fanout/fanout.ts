import type { Server } from 'socket.io';
import type { ClientToServerEvents, InterServerEvents, ServerToClientEvents } from '../protocol/events.js';
import type { EventPayload, EventSink, ServerEvent } from '../domain/events.js';

export type ParleyServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents>;

/** Every socket of a user is in that user's room; events to members go there. */
export const userRoom = (userId: string): string => `u:${userId}`;
/** Every socket opened with a session's token is in that session's room. */
export const sessionRoom = (sessionId: string): string => `s:${sessionId}`;
/** Sockets that joined a conversation (typing) are in its room. */
export const conversationRoom = (conversationId: string): string => `c:${conversationId}`;

/**
 * The one place events leave the server. One emit per event to the union of
 * the recipients' rooms: Socket.IO encodes the packet once and writes it to
 * each socket, and with a cluster adapter the same call reaches other nodes.
 */
export class SocketFanout implements EventSink {
  constructor(private readonly io: ParleyServer) {}

  toUsers<E extends ServerEvent>(userIds: Iterable<string>, event: E, payload: EventPayload<E>, exceptSocket?: string): void {
    const rooms: string[] = [];
    for (const id of userIds) rooms.push(userRoom(id));
    if (rooms.length === 0) return;
    const target = exceptSocket ? this.io.to(rooms).except(exceptSocket) : this.io.to(rooms);
    (target.emit as (ev: string, p: unknown) => boolean)(event, payload);
  }

  toConversation<E extends ServerEvent>(conversationId: string, event: E, payload: EventPayload<E>, exceptUser?: string): void {
    const room = this.io.to(conversationRoom(conversationId));
    const target = exceptUser ? room.except(userRoom(exceptUser)) : room;
    (target.emit as (ev: string, p: unknown) => boolean)(event, payload);
  }

  unsubscribe(userId: string, conversationId: string): void {
    this.io.in(userRoom(userId)).socketsLeave(conversationRoom(conversationId));
  }

  disconnectSessions(sessionIds: readonly string[]): void {
    if (sessionIds.length) this.io.in(sessionIds.map(sessionRoom)).disconnectSockets(true);
  }
}
