import fc from 'fast-check';
import { Decoder, PacketType, type Packet } from 'socket.io-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type TestSocket } from '../helpers/client.js';
import { nastyValue, resolve, shortNastyString, type Ref } from './arbitraries.js';
import { fuzzBudget } from './fuzz-config.js';
import { KNOWN, PAYLOADS, RESERVED, argsFor, unknownEvent, type KnownEvent } from './socket-payloads.js';
import {
  createWorld,
  expectHistoryEqualsAcks,
  expectServerHealthy,
  expectWellFormedAck,
  idResolver,
  type LedgerMessage,
  type World,
} from './world.js';

/**
 * Below socket.io-client: hand-made Socket.IO packets (any type, namespace,
 * ack id, attachment count and body, JSON or not, binary attachments or
 * not), written straight to the Engine.IO connection. The same parser the
 * server runs tells what each packet is; then:
 * - an event for the main namespace that carries an ack id gets exactly one
 *   well-formed ack, and the connection stays;
 * - an event without an ack id leaves the connection answering;
 * - anything else may close that connection (Socket.IO does on a packet it
 *   cannot parse), but never hangs it, never takes the server down, and
 *   never makes an `internal` answer.
 */

/** The ack id of the probe that asks "are you still there?" after each packet (no generated packet uses it). */
const PROBE_ID = 999_999_999;
const WAIT_MS = 5000;

/** A Socket.IO packet, as the text of its parts, and the binary frames that follow it. */
interface RawPacket {
  type: string;
  attachments: string | null;
  nsp: string | null;
  id: string | null;
  body: { json: unknown } | { text: string } | null;
  binaries: Uint8Array[];
}

const eventName: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...KNOWN) },
  { weight: 2, arbitrary: unknownEvent },
  { weight: 1, arbitrary: fc.constantFrom(...RESERVED) },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), nastyValue) },
);

/** Socket.IO's binary placeholders, in range and out of it. */
const placeholder = fc.constantFrom(
  { _placeholder: true, num: 0 },
  { _placeholder: true, num: 1 },
  { _placeholder: true, num: 7 },
  { _placeholder: true, num: -1 },
  { _placeholder: true, num: '0' },
  { _placeholder: true },
);

/** [event, ...args]: the payload the event expects (when it is one the server knows), or anything, binary placeholders included. */
const eventArray: fc.Arbitrary<unknown[]> = eventName.chain((name) => {
  const payload = typeof name === 'string' && (KNOWN as string[]).includes(name) ? PAYLOADS[name as KnownEvent] : nastyValue;
  return argsFor(fc.oneof({ weight: 8, arbitrary: payload }, { weight: 1, arbitrary: placeholder })).map((args) => [name, ...args]);
});

const BROKEN_BODIES = ['', '[', ']', '[]', '["', '{}', 'null', '[null]', '[1]', '[{}]', '[[]]', '["a",', '"x"', '1', '[' .repeat(10_000), '{"a":'.repeat(10_000), '["ping"]x', '\u0000'];

/**
 * A well-formed event packet (with an ack id or not), then mostly left
 * alone, else broken in one way at a time: its type, attachment count,
 * namespace, id or body, or binary frames where none belong.
 */
const rawPacket: fc.Arbitrary<RawPacket> = fc
  .record({
    id: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 4, arbitrary: fc.integer({ min: 1, max: PROBE_ID - 1 }).map(String) }),
    body: fc.oneof({ weight: 8, arbitrary: eventArray }, { weight: 1, arbitrary: nastyValue }).map((json) => ({ json })),
    change: fc.oneof(
      { weight: 20, arbitrary: fc.constant({}) },
      {
        weight: 3, // a binary event, its attachments after it
        arbitrary: fc
          .array(fc.uint8Array({ maxLength: 8 }), { minLength: 1, maxLength: 2 })
          .map((binaries) => ({ type: String(PacketType.BINARY_EVENT), attachments: `${binaries.length}-`, binaries })),
      },
      { weight: 1, arbitrary: fc.constantFrom('0-', '-1-', '1e3-', 'x-', '99999-', '-', '').map((attachments) => ({ type: String(PacketType.BINARY_EVENT), attachments })) },
      { weight: 2, arbitrary: fc.oneof(fc.constantFrom('0', '1', '3', '4', '6', '7', 'a'), fc.string({ maxLength: 2 })).map((type) => ({ type })) },
      { weight: 1, arbitrary: fc.oneof(fc.constantFrom('/,', '/x,', '/admin,', '//,', '/'), shortNastyString.map((s) => `/${s},`)).map((nsp) => ({ nsp })) },
      { weight: 1, arbitrary: fc.constantFrom('00042', '99999999999999999999', '1.5', '-1', '1e3', ' 7', '0').map((id) => ({ id })) },
      { weight: 2, arbitrary: fc.oneof(fc.constantFrom(...BROKEN_BODIES), fc.string({ maxLength: 20 })).map((text) => ({ body: { text } })) },
      { weight: 1, arbitrary: fc.constant({ body: null }) },
      { weight: 1, arbitrary: fc.array(fc.uint8Array({ maxLength: 8 }), { minLength: 1, maxLength: 2 }).map((binaries) => ({ binaries })) },
    ) as fc.Arbitrary<Partial<RawPacket>>,
  })
  .map(({ id, body, change }) => ({ type: String(PacketType.EVENT), attachments: null, nsp: null, id, body, binaries: [], ...change }));

/** The packet's text, with the Refs of its body filled in. */
function encode(p: RawPacket, idOf: (r: Ref) => string): string {
  const body = p.body === null ? '' : 'text' in p.body ? p.body.text : (JSON.stringify(resolve(p.body.json, idOf)) ?? '');
  return `${p.type}${p.attachments ?? ''}${p.nsp ?? ''}${p.id ?? ''}${body}`;
}

/** What the server's parser makes of these frames: the packet, or null when it refuses them (or waits for more). */
function parse(frames: (string | Uint8Array)[]): Packet | null {
  const decoder = new Decoder();
  let packet: Packet | null = null;
  decoder.on('decoded', (p: Packet) => (packet = p));
  try {
    for (const f of frames) decoder.add(f);
  } catch {
    return null;
  }
  return packet;
}

/** A socket's ack packets and its disconnection, watched below socket.io-client. */
class Wire {
  readonly acks = new Map<number, unknown[][]>();
  closed: string | null = null;
  private wake: (() => void)[] = [];

  constructor(readonly s: TestSocket) {
    s.socket.io.on('packet', (p: Packet) => {
      if ((p.type === PacketType.ACK || p.type === PacketType.BINARY_ACK) && p.nsp === '/' && p.id !== undefined) {
        this.acks.set(p.id, [...(this.acks.get(p.id) ?? []), p.data as unknown[]]);
        this.notify();
      }
    });
    s.socket.on('disconnect', (reason) => {
      this.closed = reason;
      this.notify();
    });
  }

  write(frames: (string | Uint8Array)[]): void {
    for (const f of frames) this.s.socket.io.engine.write(typeof f === 'string' ? f : Buffer.from(f));
  }

  /** Resolves once `done()` holds; fails after WAIT_MS. */
  async until(done: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`waited ${WAIT_MS} ms for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  private notify(): void {
    for (const w of this.wake.splice(0)) w();
  }
}

let world: World;
beforeAll(async () => {
  world = await createWorld();
});
afterAll(() => world?.server.close());

describe('fuzzing raw Socket.IO packets', () => {
  const budget = fuzzBudget(400, 60_000);
  it(
    'answers each event packet with an id exactly once, well-formed; whatever else comes, the connection answers or closes, the server lives',
    async () => {
      const tracked = idResolver(world, true);
      const untracked = idResolver(world, false);
      await fc.assert(
        fc.asyncProperty(rawPacket, async (raw) => {
          // An event the server will ack may change the checked conversation: the ack tells the ledger.
          // One without an ack aims at the scratch group instead.
          const text = encode(raw, raw.id === null ? untracked : tracked);
          const frames = [text, ...raw.binaries];
          const packet = parse(frames);
          // An ack id past 2^53 comes back in a form no client parses ("1e+37"): Socket.IO's own limit, so
          // such a packet is one of the "anything else" (the client may close on the answer).
          const event =
            packet?.nsp === '/' &&
            (packet.type === PacketType.EVENT || packet.type === PacketType.BINARY_EVENT) &&
            (packet.id === undefined || Number.isSafeInteger(packet.id))
              ? packet
              : null;
          fc.pre(event?.id !== PROBE_ID);
          if (event && event.id === undefined) {
            const json = JSON.stringify(event.data) ?? '';
            fc.pre(![world.conv, ...world.ledger.idsOf(world.me.id)].some((id) => json.includes(`"${id}"`)));
          }

          const s = await connect(world.url, world.me.token);
          const wire = new Wire(s);
          try {
            wire.write(frames);
            wire.write([`${PacketType.EVENT}${PROBE_ID}["fuzz:probe"]`]);
            await wire.until(() => wire.acks.has(PROBE_ID) || wire.closed !== null, 'the probe to be answered or the connection closed');

            if (event) {
              // An event the parser accepts is never a reason to close the connection.
              expect(wire.closed, `closed after ${JSON.stringify(text.slice(0, 200))}`).toBeNull();
              if (event.id !== undefined) {
                const id = event.id;
                await wire.until(() => wire.acks.has(id), `the ack of ${JSON.stringify(text.slice(0, 200))}`);
                const answers = wire.acks.get(id) ?? [];
                expect(answers).toHaveLength(1);
                const answer = answers[0]?.[0] as { ok?: boolean; message?: LedgerMessage };
                expectWellFormedAck(String((event.data as unknown[] | undefined)?.[0]), answer);
                if (answer.ok && answer.message) world.ledger.record(answer.message);
              }
            }
            if (wire.acks.has(PROBE_ID)) expect(wire.acks.get(PROBE_ID)?.[0]?.[0]).toMatchObject({ ok: false, error: { code: 'validation' } });
          } finally {
            s.close();
          }
        }),
        budget.params,
      );
      await expectServerHealthy(world);
      await expectHistoryEqualsAcks(world);
    },
    budget.timeoutMs,
  );

  it('closes a connection that sends a frame over 1 MiB (documented), and only that one; nothing of it is stored', async () => {
    const big = await connect(world.url, world.me.token);
    const other = await connect(world.url, world.me.token);
    try {
      const wire = new Wire(big);
      big.socket.emit('message:send', { conversationId: world.conv, content: 'x'.repeat(2 * 1024 * 1024) }, () => {});
      await wire.until(() => wire.closed !== null, 'the connection to close');
      expect(wire.acks.size).toBe(0);
      expect((await other.call('fuzz:probe')).error.code).toBe('validation');
    } finally {
      big.close();
      other.close();
    }
    await expectServerHealthy(world);
    await expectHistoryEqualsAcks(world);
  });
});
