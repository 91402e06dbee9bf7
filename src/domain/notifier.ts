import type { MessageRecord } from '../store/store.js';

/**
 * Tells members who have no connected socket that a message arrived (the
 * webhook, Web Push), as their preferences allow (notification-rules.ts).
 * Called after the commit and the fan-out with the members but the sender;
 * it must return at once and never slow or fail delivery.
 */
export interface OfflineNotifier {
  notify(message: MessageRecord, memberIds: readonly string[], direct: boolean): void;
  /** Stops; what is still queued stays queued (durable) for the next start. */
  close(): Promise<void>;
}
