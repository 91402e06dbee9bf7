import { expect } from 'vitest';
import { Type, type TSchema } from 'typebox';
import { AckError, ERROR_CATALOGUE, type ErrorCode } from '../../src/protocol/errors.js';
import { Conversation, Message } from '../../src/protocol/models.js';
import { connect, direct, group, http, register, type Account, type TestSocket } from '../helpers/client.js';
import { expectShape } from '../helpers/shapes.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { FUZZ_LOG_LEVEL } from './fuzz-config.js';
import type { Ref } from './arbitraries.js';

/**
 * What every fuzz file runs against: a real server (ephemeral port, a real
 * SQLite file) with three users, and a few conversations for payloads to
 * aim at. The caller is always `me`; `conv` is the conversation whose
 * history must equal, in the end, exactly what the acks said.
 */
export interface World {
  server: TestServer;
  url: string;
  me: Account;
  member: Account;
  stranger: Account;
  /** Direct, me and member: its history is checked against the ledger. */
  conv: string;
  /** A group of me and member for what no ledger follows (events sent without an ack). */
  scratch: string;
  /** A group of member and stranger: me is not in it. */
  foreign: string;
  otherMessage: string;
  foreignMessage: string;
  /** My messages in `scratch`. */
  scratchMessages: string[];
  ledger: Ledger;
}

export async function createWorld(): Promise<World> {
  // Rate limits off (RATE_LIMITS=off): `rate_limited` would be well-formed too, but would stop the fuzzer's own registrations and sends.
  const server = await startServer({ logLevel: FUZZ_LOG_LEVEL, rateLimits: 'off' });
  const url = server.url;
  const [me, member, stranger] = [await register(url, 'me'), await register(url, 'member'), await register(url, 'stranger')];
  const conv = (await direct(url, me, member)).id as string;
  const scratch = (await group(url, me, [member], 'scratch')).id as string;
  const foreign = (await group(url, member, [stranger], 'foreign')).id as string;
  const ledger = new Ledger(conv);

  const sm = await connect(url, member.token);
  try {
    const other = await sm.send(conv, 'a message of the other member');
    ledger.record(other);
    const foreignMessage = (await sm.send(foreign, 'not for me')).id as string;
    const sa = await connect(url, me.token);
    try {
      const mine = await sa.send(conv, 'my first message');
      ledger.record(mine);
      const scratchMessages = [(await sa.send(scratch, 'scratch one')).id, (await sa.send(scratch, 'scratch two')).id] as string[];
      return { server, url, me, member, stranger, conv, scratch, foreign, otherMessage: other.id, foreignMessage, scratchMessages, ledger };
    } finally {
      sa.close();
    }
  } finally {
    sm.close();
  }
}

/**
 * The ids Refs stand for. `tracked` aims at `conv` and my messages there (an
 * ack will tell what happened); otherwise at `scratch`, where an event with
 * no ack may change anything without upsetting the ledger.
 */
export function idResolver(w: World, tracked: boolean): (r: Ref) => string {
  return (r) => {
    switch (r.name) {
      case 'conv':
        return tracked ? w.conv : w.scratch;
      case 'scratch':
        return w.scratch;
      case 'foreign':
        return w.foreign;
      case 'ownMessage': {
        const mine = tracked ? w.ledger.idsOf(w.me.id) : w.scratchMessages;
        return mine[r.pick % mine.length] ?? 'm0';
      }
      case 'otherMessage':
        return tracked ? w.otherMessage : (w.scratchMessages[0] ?? 'm0');
      case 'foreignMessage':
        return w.foreignMessage;
      case 'me':
        return w.me.id;
      case 'member':
        return w.member.id;
      case 'stranger':
        return w.stranger.id;
    }
  };
}

// ---- the ledger: what the acks said ----------------------------------------------

/** The fields of a Message the ledger keeps. */
export type LedgerMessage = { id: string; conversationId: string; seq: number; rev: number; senderId: string; content: string; clientId: string | null; deletedAt: string | null };

/** What of a message the acks vouch for, and history must show the same. */
const essentials = (m: LedgerMessage) => ({
  id: m.id,
  seq: m.seq,
  rev: m.rev,
  senderId: m.senderId,
  content: m.content,
  clientId: m.clientId,
  deleted: m.deletedAt !== null,
});

/** Every message of one conversation as the successful acks (send, edit, delete) left it. */
export class Ledger {
  private readonly byId = new Map<string, LedgerMessage>();
  constructor(readonly conversationId: string) {}

  /** An ok ack's message: the latest change (highest rev) of each message wins. */
  record(m: LedgerMessage): void {
    if (m.conversationId !== this.conversationId) return;
    const had = this.byId.get(m.id);
    if (!had || m.rev >= had.rev) this.byId.set(m.id, m);
  }

  /** The ids of one sender's messages, by seq (so that a pick is the same on every run). */
  idsOf(senderId: string): string[] {
    return this.expected()
      .filter((m) => m.senderId === senderId)
      .map((m) => m.id);
  }

  expected(): LedgerMessage[] {
    return [...this.byId.values()].sort((a, b) => a.seq - b.seq);
  }

  get size(): number {
    return this.byId.size;
  }
}

/**
 * History equals what the acks said: REST history (paged) and `sync` from
 * 0 both hold exactly the ledger's messages (same ids, seqs, revs,
 * contents, in seq order, nothing extra), and the seqs are 1..N.
 */
export async function expectHistoryEqualsAcks(w: World): Promise<void> {
  const expected = w.ledger.expected().map(essentials);
  expect(expected.map((m) => m.seq)).toEqual(expected.map((_, i) => i + 1));

  const paged: LedgerMessage[] = [];
  for (let after = 0; ; ) {
    const r = await http(w.url, 'GET', `/api/conversations/${w.conv}/messages?after=${after}&limit=100`, { token: w.me.token });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    paged.push(...(r.body.messages as LedgerMessage[]));
    const last = paged[paged.length - 1];
    if (!r.body.hasMore || !last) break;
    after = last.seq;
  }
  expect(paged.map(essentials)).toEqual(expected);

  const s = await connect(w.url, w.me.token);
  try {
    const synced = new Map<string, LedgerMessage>();
    for (let cursor = 0; ; ) {
      const ack = await s.call('sync', { cursors: { [w.conv]: cursor }, limit: 1000 });
      expect(ack.ok, JSON.stringify(ack)).toBe(true);
      for (const m of ack.messages as LedgerMessage[]) synced.set(m.id, m);
      const revs = (ack.messages as LedgerMessage[]).map((m) => m.rev);
      if (!ack.hasMore || revs.length === 0) break;
      cursor = Math.max(...revs);
    }
    expect([...synced.values()].sort((a, b) => a.seq - b.seq).map(essentials)).toEqual(expected);
  } finally {
    s.close();
  }
}

// ---- the server is alive and has not failed -------------------------------------

/** Metric lines that count `internal` answers (socket acks and HTTP errors), with a count above 0. */
export async function internalErrorsCounted(url: string): Promise<string[]> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text.split('\n').filter((line) => /code="internal"/.test(line) && !/\s0$/.test(line));
}

/**
 * The server still answers: /health is 200 {status:"ok"}, a new socket
 * connects and gets an ack, and no `internal` answer was ever counted (that
 * also covers events sent without an ack, whose answers nobody sees).
 */
export async function expectServerHealthy(w: World): Promise<void> {
  const health = await http(w.url, 'GET', '/health');
  expect({ status: health.status, body: health.body }).toEqual({ status: 200, body: { status: 'ok' } });
  const s = await connect(w.url, w.me.token);
  try {
    expectAckError(await s.call('fuzz:alive'), 'validation');
  } finally {
    s.close();
  }
  expect(await internalErrorsCounted(w.url)).toEqual([]);
}

// ---- well-formed acks ---------------------------------------------------------------

const ok = Type.Literal(true);
/** Each known event's successful ack, closed (exactly these properties). */
export const OK_ACKS: Record<string, TSchema> = {
  'message:send': Type.Object({ ok, message: Message }),
  message: Type.Object({ ok, message: Message }),
  'message:edit': Type.Object({ ok, message: Message }),
  'message:delete': Type.Object({ ok, message: Message }),
  'conversation:join': Type.Object({ ok, messages: Type.Array(Message), lastSeq: Type.Integer({ minimum: 0 }), hasMore: Type.Boolean() }),
  'conversation:leave': Type.Object({ ok }),
  typing: Type.Object({ ok }),
  'message:delivered': Type.Object({ ok }),
  'message:read': Type.Object({ ok }),
  sync: Type.Object({ ok, messages: Type.Array(Message), conversations: Type.Array(Conversation), hasMore: Type.Boolean() }),
  'reaction:add': Type.Object({ ok, message: Message }),
  'reaction:remove': Type.Object({ ok, message: Message }),
};

/**
 * What a bad payload may be answered with while the server is up and the
 * caller's token is good: never `internal` (a bug), nor `unavailable`.
 */
export const BAD_INPUT_CODES: readonly ErrorCode[] = ['validation', 'forbidden', 'not_found'];

/** A failed ack: exactly {ok:false, error:{code, message, data?}}, a catalogue code, a sentence. */
export function expectAckError(ack: unknown, code?: ErrorCode): void {
  expectShape(AckError, ack);
  const error = (ack as { error: { code: ErrorCode; message: string } }).error;
  expect(Object.keys(ERROR_CATALOGUE)).toContain(error.code);
  if (code) expect(error.code, JSON.stringify(ack)).toBe(code);
  expect(error.message).toMatch(/\S/);
}

/** An ack for `event` is well-formed: its success shape, or a catalogue error that bad input may earn. */
export function expectWellFormedAck(event: string, ack: unknown): void {
  const schema = OK_ACKS[event];
  if ((ack as { ok?: unknown } | null)?.ok === true && schema) return expectShape(schema, ack);
  expectAckError(ack);
  const code = (ack as { error: { code: ErrorCode } }).error.code;
  expect(BAD_INPUT_CODES, `${event} answered ${JSON.stringify(ack)}`).toContain(code);
  // An event the server does not know has only one answer.
  if (!schema) expect(code).toBe('validation');
}

/**
 * Counts the ACK packets a socket receives, by id, below socket.io-client
 * (which drops a second ack for an id silently): "exactly once" is checked
 * on the wire.
 */
export function countAcks(s: TestSocket): Map<number, number> {
  const counts = new Map<number, number>();
  s.socket.io.on('packet', (packet: { type: number; id?: number }) => {
    // socket.io-parser: 3 ACK, 6 BINARY_ACK.
    if ((packet.type === 3 || packet.type === 6) && packet.id !== undefined) counts.set(packet.id, (counts.get(packet.id) ?? 0) + 1);
  });
  return counts;
}

export function expectNoAckTwice(counts: Map<number, number>): void {
  expect([...counts].filter(([, n]) => n > 1)).toEqual([]);
}
