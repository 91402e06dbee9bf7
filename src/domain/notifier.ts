import type { MessageRecord } from '../store/store.js';

/**
 * Tells members who have no connected socket that a message arrived (a push
 * relay, a webhook). Called after the commit and the fan-out; it must return
 * at once and never slow or fail delivery.
 */
export interface OfflineNotifier {
  notify(message: MessageRecord, recipientIds: readonly string[]): void;
  /** Stops; what is still queued is reported (logged and counted), not silently dropped. */
  close(): Promise<void>;
}
