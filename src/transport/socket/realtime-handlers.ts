import { MarkerPayload, SyncPayload, TypingPayload } from '../../protocol/events.js';
import { defineHandler } from './handler.js';

export const realtimeHandlers = [
  defineHandler('typing', TypingPayload, async (ctx, p) => {
    await ctx.services.typing.set(ctx.userId, ctx.socket.id, p.conversationId, p.isTyping);
    return {};
  }),

  defineHandler('message:delivered', MarkerPayload, async (ctx, p) => {
    await ctx.services.receipts.mark(ctx.userId, p.conversationId, 'delivered', p.seq);
    return {};
  }, 'receipt'),

  defineHandler('message:read', MarkerPayload, async (ctx, p) => {
    await ctx.services.receipts.mark(ctx.userId, p.conversationId, 'read', p.seq);
    return {};
  }, 'receipt'),

  defineHandler('sync', SyncPayload, async (ctx, p) => ctx.services.sync.sync(ctx.userId, p.cursors, p.limit)),
];
