// The one door to the server: the typed client library shared with other clients.
export { ParleyClient, ParleyError } from '../../src/client/index.js';
export type { ConnectionState, ConversationTimeline, PendingMessage } from '../../src/client/index.js';
export type { Attachment, Conversation, Message, MessageStatus, Reaction, Reply, User } from '../../src/protocol/models.js';
export type { SearchResult } from '../../src/protocol/http.js';
