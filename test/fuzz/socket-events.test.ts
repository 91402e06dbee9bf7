import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messageHandlers } from '../../src/transport/socket/message-handlers.js';
import { realtimeHandlers } from '../../src/transport/socket/realtime-handlers.js';
import { connect, type Transport, type TestSocket } from '../helpers/client.js';
import { nastyValue, resolve, validContent } from './arbitraries.js';
import { fuzzBudget } from './fuzz-config.js';
import {
  countAcks,
  createWorld,
  expectAckError,
  expectHistoryEqualsAcks,
  expectNoAckTwice,
  expectServerHealthy,
  expectWellFormedAck,
  idResolver,
  type LedgerMessage,
  type World,
} from './world.js';
import { KNOWN, PAYLOADS, argsFor, unknownEvent } from './socket-payloads.js';

/**
 * Every client → server event, with arbitrary and adversarial payloads,
 * through a real socket: each call that asks for an ack gets exactly one,
 * well-formed, and never `internal`; calls without an ack harm nothing; and
 * the conversation's history ends up exactly what the acks said.
 */

interface GarbageCall {
  kind: 'call';
  event: string;
  args: unknown[];
}
/** A send the server must accept: the ledger's source of new messages between the garbage. */
interface ValidSend {
  kind: 'send';
  content: string;
  withClientId: boolean;
}
type Step = GarbageCall | ValidSend;

const garbageCall: fc.Arbitrary<GarbageCall> = fc.oneof(
  ...KNOWN.map((event) => ({ weight: 4, arbitrary: argsFor(PAYLOADS[event]).map((args): GarbageCall => ({ kind: 'call', event, args })) })),
  { weight: 3, arbitrary: fc.tuple(unknownEvent, argsFor(nastyValue)).map(([event, args]): GarbageCall => ({ kind: 'call', event, args })) },
);
const validSend: fc.Arbitrary<ValidSend> = fc.record({ kind: fc.constant('send' as const), content: validContent, withClientId: fc.boolean() });
const step: fc.Arbitrary<Step> = fc.oneof({ weight: 3, arbitrary: garbageCall }, { weight: 1, arbitrary: validSend });

/** How long one ack may take; a missing ack fails the run after this (nothing else waits on time). */
const ACK_TIMEOUT_MS = 5000;
/** Socket.IO closes a connection on a frame over 1 MiB (documented); payloads stay below it. */
const FRAME_BYTES_MAX = 1_000_000;

function frameBytes(event: string, args: unknown[]): number {
  return Buffer.byteLength(JSON.stringify([event, ...args]) ?? '');
}

const call = (s: TestSocket, event: string, args: unknown[]): Promise<unknown> => s.socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, ...args);

/** Settles every promise, then fails with the first failure: no call of a failed run is left in flight. */
async function allSettledOrThrow(promises: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** One round trip after the calls: the socket is still connected and answering. */
async function expectStillAnswering(s: TestSocket): Promise<void> {
  expectAckError(await call(s, 'fuzz:barrier', []), 'validation');
  expect(s.socket.connected).toBe(true);
}

let world: World;
beforeAll(async () => {
  world = await createWorld();
});
afterAll(() => world?.server.close());

describe('fuzzing socket events', () => {
  it('covers every event the server handles', () => {
    const handled = [...messageHandlers, ...realtimeHandlers].map((h) => h.event as string);
    expect([...KNOWN].sort()).toEqual([...handled].sort());
  });

  // Long-polling takes another path through Engine.IO (HTTP bodies, not WebSocket frames): fewer runs there.
  for (const [transport, runs] of [['websocket', 350], ['polling', 80]] as [Transport, number][]) {
    const budget = fuzzBudget(runs, 60_000);
    it(
      `answers every call that asks for an ack exactly once, well-formed, never internal; history equals the acks (${transport})`,
      async () => {
        const idOf = idResolver(world, true);
        await fc.assert(
          fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 6 }), async (steps) => {
            // Payloads are built first, so that a run too big for one frame is skipped before anything is sent.
            const emits = steps.map((st) =>
              st.kind === 'send'
                ? { event: 'message:send', args: [{ conversationId: world.conv, content: st.content, ...(st.withClientId ? { clientId: randomUUID() } : {}) }], valid: st }
                : { event: st.event, args: st.args.map((a) => resolve(a, idOf)), valid: undefined },
            );
            fc.pre(emits.every((e) => frameBytes(e.event, e.args) < FRAME_BYTES_MAX));

            const s = await connect(world.url, world.me.token, { transports: [transport] });
            const acks = countAcks(s);
            try {
              await allSettledOrThrow(
                emits.map(async ({ event, args, valid }) => {
                  const ack = (await call(s, event, args)) as { ok?: boolean; message?: LedgerMessage };
                  expectWellFormedAck(event, ack);
                  if (ack.ok && ack.message) world.ledger.record(ack.message);
                  if (valid) {
                    expect(ack.ok, JSON.stringify(ack)).toBe(true);
                    expect(ack.message?.content).toBe(valid.content);
                  }
                }),
              );
              await expectStillAnswering(s);
              expectNoAckTwice(acks);
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
  }

  const withoutAck = fuzzBudget(200, 60_000);
  it(
    'takes calls without an ack (garbage included) and keeps answering; nothing failed inside; history equals the acks',
    async () => {
      const untracked = idResolver(world, false);
      const tracked = idResolver(world, true);
      await fc.assert(
        fc.asyncProperty(fc.array(garbageCall, { minLength: 1, maxLength: 8 }), async (calls) => {
          const emits = calls.map(({ event, args }) => {
            const resolved = args.map((a) => resolve(a, untracked));
            // A call that names the checked conversation or one of its messages (a
            // guessed id such as "c1") could change it unseen: it asks for an ack
            // instead, so that the ledger hears of it.
            const json = JSON.stringify(resolved) ?? '';
            const tracking = [world.conv, ...world.ledger.idsOf(world.me.id), ...world.ledger.idsOf(world.member.id)].some((id) => json.includes(`"${id}"`));
            return { event, args: tracking ? args.map((a) => resolve(a, tracked)) : resolved, withAck: tracking };
          });
          fc.pre(emits.every((e) => frameBytes(e.event, e.args) < FRAME_BYTES_MAX));

          const s = await connect(world.url, world.me.token);
          const acks = countAcks(s);
          try {
            const answered: Promise<unknown>[] = [];
            for (const { event, args, withAck } of emits) {
              if (!withAck) {
                s.socket.emit(event, ...args);
                continue;
              }
              answered.push(
                call(s, event, args).then((ack) => {
                  expectWellFormedAck(event, ack);
                  const message = (ack as { ok?: boolean; message?: LedgerMessage }).message;
                  if (message) world.ledger.record(message);
                }),
              );
            }
            await allSettledOrThrow(answered);
            await expectStillAnswering(s);
            // Only the calls that asked got an answer (and the barrier).
            expect([...acks.values()].reduce((a, b) => a + b, 0)).toBe(answered.length + 1);
            expectNoAckTwice(acks);
          } finally {
            s.close();
          }
        }),
        withoutAck.params,
      );
      await expectServerHealthy(world);
      await expectHistoryEqualsAcks(world);
    },
    withoutAck.timeoutMs,
  );
});
