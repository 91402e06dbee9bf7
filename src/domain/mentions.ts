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
 * The lower-cased names the content would mention, each once, in order of
 * first mention (for one `@`, shorter names first).
 */
export function mentionCandidates(content: string): string[] {
  const out = new Set<string>();
  for (let i = content.indexOf('@'); i !== -1; i = content.indexOf('@', i + 1)) {
    if (i > 0 && BEFORE_AT.test(content[i - 1]!)) continue;
    const start = i + 1;
    let end = start;
    while (end < content.length && end - start < LIMITS.usernameMax && NAME_CHAR.test(content[end]!)) end++;
    for (let len = LIMITS.usernameMin; start + len <= end; len++) {
      if (endsAt(content, start + len)) out.add(content.slice(start, start + len).toLowerCase());
    }
  }
  return [...out];
}
