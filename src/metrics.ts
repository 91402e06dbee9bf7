import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Store } from './store/store.js';

/** The process's Prometheus metrics, on a registry of its own (one per app). */
export function createMetrics(store: Pick<Store, 'indexLag'>) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'parley_' });
  const metrics = {
    messagesStored: new Counter({ name: 'parley_messages_stored_total', help: 'Messages durably stored.', registers: [registry] }),
    socketErrors: new Counter({
      name: 'parley_socket_errors_total',
      help: 'Socket events answered with an error, by event and code.',
      labelNames: ['event', 'code'] as const,
      registers: [registry],
    }),
    commitBatch: new Histogram({
      name: 'parley_commit_batch_size',
      help: 'Messages per group commit.',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
      registers: [registry],
    }),
    commitSeconds: new Histogram({
      name: 'parley_commit_seconds',
      help: 'Time of one group commit (transaction and fsync).',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5],
      registers: [registry],
    }),
    socketsConnected: new Gauge({ name: 'parley_sockets_connected', help: 'Open Socket.IO connections.', registers: [registry] }),
    slowSocketsDropped: new Counter({
      name: 'parley_slow_sockets_dropped_total',
      help: 'Sockets disconnected because their unsent output passed the bound (clients that stopped reading).',
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: 'parley_rate_limited_total',
      help: 'Actions refused by a rate limit, by rule.',
      labelNames: ['rule'] as const,
      registers: [registry],
    }),
    notifications: new Counter({
      name: 'parley_notifications_total',
      help: 'Offline notifications, by outcome (sent, retried, failed, dropped).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    notificationsQueued: new Gauge({
      name: 'parley_notifications_queued',
      help: 'Notification jobs (a recipient, a conversation, a channel) waiting, claimed or waiting to retry, deployment-wide.',
      registers: [registry],
    }),
    pushes: new Counter({
      name: 'parley_push_total',
      help: 'Web Push, by outcome: sent (per subscription), gone (404/410: forgotten), retried, failed, cancelled (read meanwhile), skipped (online, deleted, no subscription), dropped (queue full).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    searchIndexLag: new Gauge({
      name: 'parley_search_index_lag_messages',
      help: 'Messages stored but not yet in the search index.',
      registers: [registry],
      collect() {
        this.set(store.indexLag());
      },
    }),
    httpErrors: new Counter({
      name: 'parley_http_errors_total',
      help: 'HTTP error answers, by code.',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
  };
  return { registry, metrics };
}

export type Metrics = ReturnType<typeof createMetrics>['metrics'];
