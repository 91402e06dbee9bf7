import type { Registry } from 'prom-client';
import type { AccountService } from '../domain/accounts.js';
import type { AttachmentService } from '../domain/attachments.js';
import type { ConversationService } from '../domain/conversations.js';
import type { MessageService } from '../domain/messages.js';
import type { PresenceService } from '../domain/presence.js';
import type { PushSubscriptionService } from '../domain/push-subscriptions.js';
import type { ReceiptService } from '../domain/receipts.js';
import type { RateLimits } from '../domain/rate-limits.js';
import type { SearchService } from '../domain/search.js';
import type { SyncService } from '../domain/sync.js';
import type { TypingService } from '../domain/typing.js';
import type { Metrics } from '../metrics.js';

/** What the transports call: the domain services, and little else. */
export interface Services {
  accounts: AccountService;
  conversations: ConversationService;
  messages: MessageService;
  receipts: ReceiptService;
  typing: TypingService;
  sync: SyncService;
  search: SearchService;
  presence: PresenceService;
  attachments: AttachmentService;
  /** Web Push: the server's key, browsers' subscriptions, previews. */
  push: PushSubscriptionService;
  /** Rate limits (RATE_LIMITS): per user, per address, per account. */
  limits: RateLimits;
  /** Only for /health: the store and, with several nodes, Redis; each resolves when it answers. */
  dependencies: { name: string; ping: () => Promise<void> }[];
  metrics: Metrics;
  registry: Registry;
  now: () => number;
}
