export { ParleyClient, ParleyError, type ConnectionState, type ParleyClientOptions } from './parley-client.js';
export { MessageStore, type ConversationTimeline, type PendingMessage } from './message-store.js';
export { SyncCursors } from './sync-cursors.js';
export { MarkerCoalescer, markerInterval, type MarkerCoalescerOptions, type MarkerType } from './marker-coalescer.js';
