import { DeletePayload, EditPayload, JoinPayload, LeavePayload, ReactionPayload, SendPayload } from '../../protocol/events.js';
import { conversationRoom } from '../../fanout/fanout.js';
import { defineHandler, type SocketContext } from './handler.js';

async function send(ctx: SocketContext, payload: SendPayload) {
  const message = await ctx.services.messages.send({ userId: ctx.userId, socketId: ctx.socket.id }, payload);
  return { message };
}

export const messageHandlers = [
  defineHandler('message:send', SendPayload, send, 'send'),
  // The plain Socket.IO `send()` emits `message`: the same thing.
  defineHandler('message', SendPayload, send, 'send'),

  defineHandler('message:edit', EditPayload, async (ctx, p) => ({
    message: await ctx.services.messages.edit({ userId: ctx.userId, socketId: ctx.socket.id }, p.messageId, p.content),
  }), 'send'),

  defineHandler('message:delete', DeletePayload, async (ctx, p) => ({
    message: await ctx.services.messages.delete({ userId: ctx.userId, socketId: ctx.socket.id }, p.messageId),
  }), 'send'),

  // Reactions spend the sender's bucket, as edits and deletions do.
  defineHandler('reaction:add', ReactionPayload, async (ctx, p) => ({
    message: await ctx.services.messages.react({ userId: ctx.userId, socketId: ctx.socket.id }, p.messageId, p.emoji, true),
  }), 'send'),
  defineHandler('reaction:remove', ReactionPayload, async (ctx, p) => ({
    message: await ctx.services.messages.react({ userId: ctx.userId, socketId: ctx.socket.id }, p.messageId, p.emoji, false),
  }), 'send'),

  defineHandler('conversation:join', JoinPayload, async (ctx, p) => {
    const answer = await ctx.services.messages.join(p.conversationId, ctx.userId, p);
    // Joining subscribes this socket to the conversation's typing events.
    await ctx.socket.join(conversationRoom(p.conversationId));
    return answer;
  }),

  defineHandler('conversation:leave', LeavePayload, async (ctx, p) => {
    await ctx.socket.leave(conversationRoom(p.conversationId));
    return {};
  }),
];
