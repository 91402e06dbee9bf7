/**
 * Mentions (contract v1.1): `@` + a member's username, ASCII case ignored.
 * The `@` starts the content or follows a character that is none of
 * `A-Z a-z 0-9 _ . - @`; the name ends the content or is followed by a
 * character that is none of `A-Z a-z 0-9 _`, and not by `.` or `-` followed
 * by one of `A-Z a-z 0-9 _`. So `@Bob,`, `@bob.` and `(@bob)` mention bob;
 * `@bobby`, `@bob.smith`, `@bob-2` and `mail@bob` do not.
 *
 * Usernames may hold `.` and `-`, so after one `@` several names may be
 * meant (`@bob.` names `bob` and `bob.`): this gives every name that the
 * text would mention if a member had it; the store keeps those that are
 * members' (in the message's transaction, against the members then).
 */
import { LIMITS } from '../protocol/limits.js';

const WORD = /[A-Za-z0-9_]/;
const NAME_CHAR = /[A-Za-z0-9_.-]/;
const BEFORE_AT = /[A-Za-z0-9_.\-@]/;

/** Whether a name ending before `at` is complete there (the rule's end condition). */
function endsAt(text: string, at: number): boolean {
  const next = text[at];
  if (next === undefined) return true;
  if (WORD.test(next)) return false;
  if (next === '.' || next === '-') {
    const after = text[at + 1];
    return after === undefined || !WORD.test(after);
  }
  return true;
}

/**
 * Each `@` of the text that may start a mention, with every name the rule
 * lets end there (shortest first; as typed, not lower-cased). UTF-16 offsets.
 */
export function mentionSpans(text: string): { at: number; names: { end: number; name: string }[] }[] {
  const spans: { at: number; names: { end: number; name: string }[] }[] = [];
  for (let i = text.indexOf('@'); i !== -1; i = text.indexOf('@', i + 1)) {
    if (i > 0 && BEFORE_AT.test(text[i - 1]!)) continue;
    const start = i + 1;
    let end = start;
    while (end < text.length && end - start < LIMITS.usernameMax && NAME_CHAR.test(text[end]!)) end++;
    const names: { end: number; name: string }[] = [];
    for (let len = LIMITS.usernameMin; start + len <= end; len++) {
      if (endsAt(text, start + len)) names.push({ end: start + len, name: text.slice(start, start + len) });
    }
    if (names.length) spans.push({ at: i, names });
  }
  return spans;
}

/**
 * The lower-cased names the content would mention, each once, in order of
 * first mention (for one `@`, shorter names first).
 */
export function mentionCandidates(content: string): string[] {
  const out = new Set<string>();
  for (const span of mentionSpans(content)) for (const n of span.names) out.add(n.name.toLowerCase());
  return [...out];
}

/** Where a text mentions someone: `@name` as [start, end) UTF-16 offsets, and whom. */
export interface MentionRange {
  start: number;
  end: number;
  userId: string;
}

/**
 * Where `text` mentions one of `names` (lower-cased username → user id):
 * after each `@`, the longest name the rule allows that is one of them
 * (clients highlighting mentions use this, so they find what the server did).
 */
export function findMentions(text: string, names: ReadonlyMap<string, string>): MentionRange[] {
  const out: MentionRange[] = [];
  if (names.size === 0) return out;
  for (const span of mentionSpans(text)) {
    for (let k = span.names.length - 1; k >= 0; k--) {
      const n = span.names[k]!;
      const userId = names.get(n.name.toLowerCase());
      if (userId !== undefined) {
        out.push({ start: span.at, end: n.end, userId });
        break;
      }
    }
  }
  return out;
}
