/**
 * Mentions in the web client: where a message mentions someone (the
 * server's own rule, src/domain/mentions.ts, so the client highlights what
 * the server resolved), and the mention being typed at the caret.
 */
export { findMentions, type MentionRange } from '../../src/domain/mentions';

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
