import type { Registry } from 'prom-client';
import type { AccountService } from '../domain/accounts.js';
import type { ConversationService } from '../domain/conversations.js';
import type { MessageService } from '../domain/messages.js';
import type { Presence } from '../domain/presence.js';
import type { Store } from '../store/store.js';
import type { Metrics } from '../metrics.js';

/** What the transports call: the domain services, and little else. */
export interface Services {
  accounts: AccountService;
  conversations: ConversationService;
  messages: MessageService;
  presence: Presence;
  /** Only for /health. */
  store: Pick<Store, 'ping' | 'setLastSeen'>;
  metrics: Metrics;
  registry: Registry;
  now: () => number;
}
