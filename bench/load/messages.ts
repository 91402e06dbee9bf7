/** What the load-generator pool and its worker threads say to each other. */
import type { Proto } from '../servers.js';

/** One connection to open: `tag` is its number in the whole pool. */
export interface ClientSpec {
  tag: number;
  token?: string;
  /** Rooms to join at the handshake (the relays; Parley ignores them). */
  rooms?: string[];
  /** Whether it counts the messages delivered to it. */
  receives?: boolean;
  /** The server this connection goes to (a node of a cluster); default: the pool's url. */
  url?: string;
  /**
   * The source address to connect from (e.g. 127.0.0.7): each address has
   * its own ~28,000 ephemeral ports, so more connections than that fit
   * (connections.ts spreads them over 127.0.0.x).
   */
  localAddress?: string;
  /**
   * Parley: acknowledges delivery and read of every message from others as
   * the shipped client does (src/client/marker-coalescer.ts), with this
   * interval (ms) between two moves of a kind in the conversation.
   */
  markerIntervalMs?: number;
}

export interface WorkerSetup {
  proto: Proto;
  url: string;
  clients: ClientSpec[];
  /** Seed of this worker's message texts. */
  seed: number;
  /** Handshakes in flight at once, per worker. */
  concurrency: number;
  connectTimeoutMs: number;
}

/** A connection that sends: `window` messages in flight (ack-driven), or a steady `rate` per second (time-driven). */
export interface SenderSpec {
  tag: number;
  conversationId: string;
  window?: number;
  rate?: number;
}

/** The message numbers one sender had acknowledged. */
export interface Acked {
  tag: number;
  ns: number[];
}

export type Command =
  | { cmd: 'connect' }
  | { cmd: 'run'; senders: SenderSpec[]; durationMs: number; ackTimeoutMs: number }
  | { cmd: 'collect'; acked: Acked[]; timeoutMs: number }
  | { cmd: 'close' };

export interface ConnectResult {
  type: 'connected';
  connectMs: number[];
  /** Event-loop utilisation of this worker while it connected. */
  elu: number;
  errors: number;
  errorSamples: string[];
}

export interface RunResult {
  type: 'ran';
  acked: Acked[];
  /** Answers with `ok: false`. */
  errors: number;
  /** Sends never answered within the ack timeout. */
  timedOut: number;
  errorSamples: string[];
  /** Send (scheduled, for a rate) to ack, ms. */
  ackMs: number[];
  /** Actual send to ack, ms (for a rate: without the sender's own lateness). */
  ackFromSendMs: number[];
  /** How late a rate sender sent after the scheduled time, ms. */
  lagMs: number[];
  /** Event-loop utilisation of this worker over the run. */
  elu: number;
}

export interface CollectResult {
  type: 'collected';
  /** Deliveries expected: each acknowledged message to each receiving connection but its sender. */
  expected: number;
  /** Deliveries of acknowledged messages, counted once per connection. */
  received: number;
  lost: number;
  duplicated: number;
  /** Deliveries of messages that were never acknowledged. */
  unexpected: number;
  /** `receipt` events received, every receiving connection together. */
  receipts: number;
  /** `message:delivered` / `message:read` sent (markerIntervalMs), and how many of them failed (answered `ok: false`, or no answer in 30 s). */
  markerMoves: number;
  markerMovesFailed: number;
  /** Send (scheduled, for a rate) to delivery, ms. */
  latencyMs: number[];
  firstAbs: number;
  lastAbs: number;
}

export interface CloseResult {
  type: 'closed';
  /** Connections that closed before they were told to. */
  lost: number;
  lostSamples: string[];
}

export type Reply = { type: 'ready' } | ConnectResult | RunResult | CollectResult | CloseResult;

/** A message's clientId carries its sender, number and send time, so receivers need no lookup. */
export const clientIdOf = (tag: number, n: number, sentAbs: number): string => `${tag}:${n}:${sentAbs.toFixed(3)}`;

export function parseClientId(clientId: string): { tag: number; n: number; sentAbs: number } | null {
  const [tag, n, sent] = clientId.split(':');
  if (tag === undefined || n === undefined || sent === undefined) return null;
  return { tag: Number(tag), n: Number(n), sentAbs: Number(sent) };
}
