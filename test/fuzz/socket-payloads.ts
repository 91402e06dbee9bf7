import fc from 'fast-check';
import type { ClientToServerEvents } from '../../src/protocol/events.js';
import {
  Obj,
  boolField,
  clientIdField,
  contentField,
  idField,
  nastyValue,
  payloadOf,
  ref,
  seqField,
  shortNastyString,
} from './arbitraries.js';

/** Payloads for every client → server event, and event names the server does not know. */

export type KnownEvent = keyof ClientToServerEvents;

const sendPayload = payloadOf({ conversationId: idField, content: contentField, clientId: clientIdField, replyToId: idField });
/** Emoji: real ones (one, several, with modifiers and ZWJ), near misses, or anything. */
const emojiField: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('👍', '👍🏽', '❤️', '❤', '🇫🇷', '👨‍👩‍👧‍👦', '🔥', '🙂') },
  { weight: 1, arbitrary: fc.constantFrom('a', ':+1:', '👍👍', '🇫🇷🇩🇪', ' 👍', '', '\ud83d', '👨‍👩‍👧‍👦'.repeat(3), '1️⃣') },
  { weight: 1, arbitrary: nastyValue },
);
const reactionPayload = payloadOf({ messageId: idField, emoji: emojiField });
const markerPayload = payloadOf({ conversationId: idField, seq: seqField });
/** Sync cursors: real conversation ids (or anything) as keys, revs (or anything) as values. */
const cursorsField = fc.oneof(
  { weight: 4, arbitrary: fc.array(fc.tuple(fc.oneof(ref, shortNastyString), seqField), { maxLength: 4 }).map((e) => new Obj(e)) },
  { weight: 1, arbitrary: nastyValue },
);

/** A payload generator for each event the protocol defines (the type makes a new event fail to compile here). */
export const PAYLOADS: Record<KnownEvent, fc.Arbitrary<unknown>> = {
  'message:send': sendPayload,
  message: sendPayload,
  'message:edit': payloadOf({ messageId: idField, content: contentField }),
  'message:delete': payloadOf({ messageId: idField }),
  'conversation:join': payloadOf({ conversationId: idField, afterSeq: seqField, limit: seqField }),
  'conversation:leave': payloadOf({ conversationId: idField }),
  typing: payloadOf({ conversationId: idField, isTyping: boolField }),
  'message:delivered': markerPayload,
  'message:read': markerPayload,
  sync: payloadOf({ cursors: cursorsField, limit: seqField }),
  'reaction:add': reactionPayload,
  'reaction:remove': reactionPayload,
};
export const KNOWN = Object.keys(PAYLOADS) as KnownEvent[];

/** Names socket.io-client refuses to emit (it throws before anything is sent). */
export const RESERVED = ['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener'];
export const unknownEvent: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('message:sendx', 'MESSAGE:SEND', 'message:send ', ' message', 'error', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'reaction:addx', 'ping', ''),
  fc.string({ maxLength: 20 }).filter((s) => !RESERVED.includes(s) && !(KNOWN as string[]).includes(s)),
);

/** The arguments of one emit: mostly one payload, sometimes none, sometimes one too many. */
export function argsFor(payload: fc.Arbitrary<unknown>): fc.Arbitrary<unknown[]> {
  return fc.oneof(
    { weight: 8, arbitrary: payload.map((p) => [p]) },
    { weight: 1, arbitrary: fc.constant<unknown[]>([]) },
    { weight: 1, arbitrary: fc.tuple(payload, nastyValue) },
  );
}
