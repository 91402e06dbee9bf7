import fc from 'fast-check';

/**
 * Adversarial inputs, shared by the socket and REST fuzzers: odd strings
 * and numbers, hostile keys, deep nesting, and "valid-looking" objects whose
 * ids are real ones of this run (filled in at send time through `Ref`).
 */

// ---- values built at send time: real ids, hostile keys, long or deep values -----

/** The ids a fuzzer can aim at: real conversations, messages and users of the run. */
export type RefName =
  | 'conv' // the conversation whose history is checked against the acks (direct, the caller and `member`)
  | 'scratch' // a group of the caller's where anything may happen
  | 'foreign' // a group the caller is not in
  | 'ownMessage' // one of the caller's messages (picked at send time)
  | 'otherMessage' // a message of another member, in `conv`
  | 'foreignMessage' // a message of `foreign`
  | 'me'
  | 'member'
  | 'stranger';

const REF_NAMES: readonly RefName[] = ['conv', 'scratch', 'foreign', 'ownMessage', 'otherMessage', 'foreignMessage', 'me', 'member', 'stranger'];

/** A placeholder for a real id, replaced just before the payload leaves (see `resolve`). */
export class Ref {
  constructor(
    readonly name: RefName,
    /** Which one, where there are several (the caller's messages). */
    readonly pick: number,
  ) {}
  [fc.toStringMethod](): string {
    return `$${this.name}${this.name === 'ownMessage' ? `#${this.pick}` : ''}`;
  }
}

export const ref: fc.Arbitrary<Ref> = fc.tuple(fc.constantFrom(...REF_NAMES), fc.nat(50)).map(([name, pick]) => new Ref(name, pick));

/**
 * An object built at send time from its entries, so that keys such as
 * `__proto__` become own properties (an object literal would set the
 * prototype instead), and a key may itself be a `Ref` (sync cursors).
 */
export class Obj {
  constructor(readonly entries: readonly (readonly [string | Ref, unknown])[]) {}
  [fc.toStringMethod](): string {
    return `{${this.entries.map(([k, v]) => `${fc.stringify(k)}: ${fc.stringify(v)}`).join(', ')}}`;
  }
}

/**
 * A string of `count` times `unit`, built at send time (so that a
 * counterexample prints as `"x"×4001`, not as the string itself).
 */
export class Repeated {
  constructor(
    readonly unit: string,
    readonly count: number,
  ) {}
  build(): string {
    return this.unit.repeat(this.count);
  }
  [fc.toStringMethod](): string {
    return `${JSON.stringify(this.unit)}×${this.count}`;
  }
}

/**
 * `depth` levels of `{a: …}` or `[…]` around a value, built at send time
 * (fast-check's own printing of a counterexample would overflow the stack
 * on the value itself). Bounded: the client's encoder recurses too.
 */
export class Nested {
  constructor(
    readonly depth: number,
    readonly kind: 'object' | 'array',
  ) {}
  build(): unknown {
    let v: unknown = 'bottom';
    for (let i = 0; i < this.depth; i++) v = this.kind === 'object' ? { a: v } : [v];
    return v;
  }
  [fc.toStringMethod](): string {
    return `<${this.kind}s nested ${this.depth} deep>`;
  }
}

/**
 * What a payload is on the wire: every Ref, Obj, Nested and Repeated
 * replaced by what it stands for, and exotic values made plain the way JSON
 * would see them (dates as their JSON, boxed values unboxed, maps and sets
 * empty objects), except typed arrays, which become Buffers: Socket.IO sends
 * those as binary attachments. socket.io-client's own encoder trips over
 * some exotic values (a Date under an own `__proto__` key throws inside it):
 * that is the client's problem, not a payload the server ever sees.
 */
export function resolve(value: unknown, idOf: (r: Ref) => string): unknown {
  if (value instanceof Ref) return idOf(value);
  if (value instanceof Nested || value instanceof Repeated) return value.build();
  if (value instanceof Obj) return plainObject(value.entries.map(([k, v]) => [k instanceof Ref ? idOf(k) : k, v]), idOf);
  if (value === null || typeof value !== 'object') return value;
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (Array.isArray(value)) return Array.from(value, (v: unknown) => resolve(v, idOf));
  if (value instanceof Date) return value.toJSON();
  if (value instanceof Number || value instanceof String || value instanceof Boolean) return value.valueOf();
  if (value instanceof Map || value instanceof Set) return {};
  return plainObject(Object.entries(value), idOf);
}

/** An object with these own properties (`__proto__` too: defined, not assigned). */
function plainObject(entries: readonly (readonly [string, unknown])[], idOf: (r: Ref) => string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) Object.defineProperty(out, k, { value: resolve(v, idOf), enumerable: true, writable: true, configurable: true });
  return out;
}

// ---- leaves ----------------------------------------------------------------------

/** Strings that broke, or could break, a chat server somewhere. */
export const SPECIAL_STRINGS: readonly string[] = [
  '', ' ', '   ', '\t\n\r', '\u0000', 'a\u0000b', '\u0000\u0000',
  '\ud800', '\udc00', 'x\ud83d', '\ud83dx', '\udfff\ud800', // lone surrogates
  '😀', '👨‍👩‍👧‍👦', '🇫🇷', 'e\u0301', 'Z̴̡̛͓a̷͎l̸g̵o̶', '\u202egnp.exe', '\u200b', '\u200d', '\ufeff', '\uffff', '\ufffe', '\u{10ffff}', '\u180e', '\u3000',
  '東京都に行きます', 'עברית', 'مرحبا', '𝕏',
  '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__',
  'null', 'undefined', 'NaN', 'Infinity', '-0', '1e308', '0x10', 'true', '[]', '{}',
  '%00', '%', '%zz', '%E0%A4%A', '../../etc/passwd', '/', '?', '#', '&', '=',
  "'; DROP TABLE messages; --", '" OR 1=1 --', '\\', '${jndi:ldap://x}', '<script>alert(1)</script>', '*', 'NEAR(a b)', 'a OR b', '"', '^', '-',
  'c1', 'u1', 'm1', 'c0', 'u0', 'm0', 'c-1', 'c1.5', 'c1e3', 'C1', ' c1', 'c1 ', 'c99999999999999999999', 'm9007199254740993',
];

/** Strings at and past the documented bounds (content 4000 code points, ids 64, clientId 128, titles 200) and far past them. */
export const LONG_STRINGS: readonly Repeated[] = [
  ['x', 64], ['x', 65], ['x', 128], ['x', 129], ['x', 200], ['x', 201],
  ['x', 4000], ['x', 4001], ['𝕏', 4000], ['𝕏', 4001], [' ', 4000], ['é', 3000],
  ['y', 100_000],
].map(([unit, count]) => new Repeated(unit as string, count as number));

/** Any UTF-16 code unit, so strings with lone surrogates come up. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));

/** A hostile string (or a Repeated one: `resolve` makes it a string). */
export const nastyString: fc.Arbitrary<string | Repeated> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...SPECIAL_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: codeUnit, maxLength: 30 }) },
  { weight: 1, arbitrary: fc.constantFrom(...LONG_STRINGS) },
);

/** Short strings only: for positions that can repeat many times in one payload. */
export const shortNastyString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...SPECIAL_STRINGS),
  fc.string({ unit: codeUnit, maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
);

/** Numbers at the edges (JSON turns NaN and ±Infinity into null, and -0 into 0, on the way). */
export const nastyNumber: fc.Arbitrary<number> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      NaN, -0, 0, 1, -1, 0.5, -0.5, 1.5, 1e-300, Number.MIN_VALUE, Number.EPSILON,
      1e308, -1e308, Infinity, -Infinity, 2 ** 31, 2 ** 31 - 1, 2 ** 32, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 2 ** 63, 2 ** 64,
      Number.MAX_SAFE_INTEGER, Number.MAX_VALUE, 50, 100, 101, 1000, 1001, 4000, 4001,
    ),
  },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double() },
);

/** Keys an object may carry: the protocol's own field names, prototype keys, anything. */
export const nastyKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'toJSON', 'then', 'length', '',
    'conversationId', 'content', 'clientId', 'messageId', 'seq', 'limit', 'afterSeq', 'cursors', 'isTyping', 'ok', 'error',
  ),
  fc.string({ maxLength: 10 }),
);

const leaf: fc.Arbitrary<unknown> = fc.oneof(shortNastyString, nastyNumber, fc.boolean(), fc.constant(null), fc.constant(undefined));

/** Objects or arrays nested 10 to 1000 deep (deeper JSON goes as raw text in the REST fuzzer). */
export const deepValue: fc.Arbitrary<Nested> = fc
  .tuple(fc.constantFrom(10, 100, 1000), fc.constantFrom('object' as const, 'array' as const))
  .map(([depth, kind]) => new Nested(depth, kind));

/** Anything at all: fast-check's `anything` with every exotic option, seasoned with the leaves above. */
export const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: leaf },
  {
    weight: 3,
    arbitrary: fc.anything({
      key: nastyKey,
      values: [leaf],
      maxDepth: 3,
      maxKeys: 4,
      withBoxedValues: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withObjectString: true,
      withSparseArray: true,
      withTypedArray: true,
    }),
  },
  { weight: 1, arbitrary: deepValue },
  { weight: 1, arbitrary: fc.constantFrom(...LONG_STRINGS) },
);

// ---- fields of valid-looking payloads --------------------------------------------

/** Text the server must accept and give back exactly: 1–4000 code points, not blank, well-formed. */
export const validContent: fc.Arbitrary<string> = fc
  .oneof(
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
    fc.constantFrom('hello', 'a\u0000b', '😀 ok', 'e\u0301', '東京都に行きます', '\u{10ffff}', '\uffff', '𝕏'.repeat(4000), 'x'.repeat(3999) + '😀'),
  )
  .filter((s) => /\S/u.test(s) && [...s].length <= 4000);

/** An id field: mostly a real id of the run, else anything. */
export const idField: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: ref },
  { weight: 2, arbitrary: nastyString },
  { weight: 1, arbitrary: nastyValue },
);

export const contentField: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 2, arbitrary: validContent },
  { weight: 2, arbitrary: nastyString },
  { weight: 1, arbitrary: nastyValue },
);

/** A few client ids are reused on purpose: a repeat must answer the original message. */
export const clientIdField: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom('k1', 'k2', 'k3'),
  fc.uuid(),
  fc.constant(null),
  nastyString,
  nastyValue,
);

export const seqField: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: -2, max: 40 }) },
  { weight: 2, arbitrary: nastyNumber },
  { weight: 1, arbitrary: nastyValue },
);

export const boolField: fc.Arbitrary<unknown> = fc.oneof({ weight: 3, arbitrary: fc.boolean() }, { weight: 1, arbitrary: nastyValue });

/** Marks a field left out of an object. */
const ABSENT = Symbol('absent');

/**
 * An object with `fields`, each one left out now and then, and maybe extra
 * entries (hostile keys included) before or after them.
 */
export function objectOf(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Obj> {
  const maybe = Object.fromEntries(
    Object.entries(fields).map(([k, arb]) => [k, fc.oneof({ weight: 6, arbitrary: arb }, { weight: 1, arbitrary: fc.constant(ABSENT) })]),
  );
  return fc
    .tuple(fc.record(maybe), fc.array(fc.tuple(nastyKey, nastyValue), { maxLength: 3 }), fc.boolean())
    .map(([known, extra, extraFirst]) => {
      const own = Object.entries(known).filter(([, v]) => v !== ABSENT);
      return new Obj(extraFirst ? [...extra, ...own] : [...own, ...extra]);
    });
}

/** `fields` as a valid-looking object most of the time, else anything (an array, a string, nothing, deep nesting). */
export function payloadOf(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> {
  const shaped = objectOf(fields);
  return fc.oneof(
    { weight: 8, arbitrary: shaped },
    { weight: 1, arbitrary: nastyValue },
    { weight: 1, arbitrary: shaped.map((o) => [o]) }, // an array where an object is expected
  );
}
