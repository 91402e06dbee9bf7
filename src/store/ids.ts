/**
 * Wire ids are opaque strings: a kind prefix and a base-10 integer key
 * (`u12`, `c7`, `m1042`). Integer keys keep B-tree inserts local and indexes
 * small; the prefix makes a user id passed as a conversation id find nothing.
 */
/** u: user, c: conversation, m: message, a: attachment, s: session (a token's; never on the wire but inside tokens), p: push subscription, n: notification job (never on the wire). */
export type IdKind = 'u' | 'c' | 'm' | 'a' | 's' | 'p' | 'n';

const PATTERN = /^[1-9][0-9]{0,14}$/;

export function encodeId(kind: IdKind, key: number | bigint): string {
  return kind + String(key);
}

/** The integer key of a wire id of that kind, or null for anything else. */
export function decodeId(kind: IdKind, id: unknown): number | null {
  if (typeof id !== 'string' || id[0] !== kind) return null;
  const digits = id.slice(1);
  return PATTERN.test(digits) ? Number(digits) : null;
}
