import type { ReactNode } from 'react';
import { findMentions } from '../mentions';

const URL_RE = /\bhttps?:\/\/[^\s<>"]*[^\s<>".,:;!?'")\]}]/gi;

interface Span {
  start: number;
  end: number;
  node: (key: number) => ReactNode;
}

/**
 * A message's text with its web addresses as links and its mentions of
 * members highlighted (mentions of `meId` stand out). React escapes the rest.
 * `names`: lower-cased username → user id of those the message mentions.
 */
export function MessageText({ text, names, meId }: { text: string; names?: ReadonlyMap<string, string>; meId?: string }) {
  const spans: Span[] = [];
  for (const m of text.matchAll(URL_RE)) {
    const start = m.index ?? 0;
    const url = m[0];
    spans.push({
      start,
      end: start + url.length,
      node: (key) => (
        <a key={key} href={url} target="_blank" rel="noopener noreferrer nofollow">
          {url}
        </a>
      ),
    });
  }
  if (names && names.size > 0) {
    for (const r of findMentions(text, names)) {
      if (spans.some((s) => r.start < s.end && s.start < r.end)) continue; // inside a link
      const me = r.userId === meId;
      spans.push({
        start: r.start,
        end: r.end,
        node: (key) => (
          <span key={key} className={`mention ${me ? 'mention-me' : ''}`} data-user-id={r.userId}>
            {text.slice(r.start, r.end)}
          </span>
        ),
      });
    }
  }
  spans.sort((a, b) => a.start - b.start);
  const out: ReactNode[] = [];
  let at = 0;
  for (const s of spans) {
    if (s.start < at) continue;
    if (s.start > at) out.push(text.slice(at, s.start));
    out.push(s.node(s.start));
    at = s.end;
  }
  if (at < text.length) out.push(text.slice(at));
  return <>{out}</>;
}
