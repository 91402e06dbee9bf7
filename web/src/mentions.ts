/**
 * Mentions as the server finds them (contract v1.1, src/domain/mentions.ts):
 * `@` + a username, ASCII case ignored; the `@` starts the text or follows a
 * character that is none of `A-Z a-z 0-9 _ . - @`; the name ends the text or
 * is followed by a character that is none of `A-Z a-z 0-9 _`, and not by
 * `.` or `-` followed by one of those.
 */

const WORD = /[A-Za-z0-9_]/;
const NAME_CHAR = /[A-Za-z0-9_.-]/;
const BEFORE_AT = /[A-Za-z0-9_.\-@]/;
const NAME_MAX = 32;

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

export interface MentionRange {
  /** UTF-16 offsets of `@name`, [start, end). */
  start: number;
  end: number;
  userId: string;
}

/**
 * Where `text` mentions one of `names` (lower-cased username → user id): the
 * longest such name after each `@` that the rule allows.
 */
export function findMentions(text: string, names: ReadonlyMap<string, string>): MentionRange[] {
  const out: MentionRange[] = [];
  if (names.size === 0) return out;
  for (let i = text.indexOf('@'); i !== -1; i = text.indexOf('@', i + 1)) {
    if (i > 0 && BEFORE_AT.test(text[i - 1]!)) continue;
    const start = i + 1;
    let end = start;
    while (end < text.length && end - start < NAME_MAX && NAME_CHAR.test(text[end]!)) end++;
    for (let stop = end; stop > start; stop--) {
      if (!endsAt(text, stop)) continue;
      const userId = names.get(text.slice(start, stop).toLowerCase());
      if (userId !== undefined) {
        out.push({ start: i, end: stop, userId });
        break;
      }
    }
  }
  return out;
}

/**
 * The mention being typed at the caret: the text after an `@` that may start
 * a mention, up to the caret (null when the caret is not in one).
 */
export function mentionQuery(text: string, caret: number): { at: number; query: string } | null {
  const before = text.slice(0, caret);
  const m = /(?:^|[^A-Za-z0-9_.\-@])@([A-Za-z0-9_.-]{0,32})$/.exec(before);
  if (!m) return null;
  const query = m[1] ?? '';
  return { at: caret - query.length - 1, query };
}
