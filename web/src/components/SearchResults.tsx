import { useEffect, useState } from 'react';
import { conversationTitle, highlightPieces, memberName, shortTime, snippetAroundHit } from '../format';
import { useDebounced } from '../hooks/useDebounced';
import { useParley } from '../hooks/useParley';
import type { SearchResult } from '../parley';

type State = { status: 'loading' } | { status: 'done'; results: SearchResult[] } | { status: 'error'; message: string };

export function Highlighted({ content, ranges }: { content: string; ranges: ReadonlyArray<readonly [number, number]> }) {
  return (
    <>
      {highlightPieces(content, ranges).map((p, i) => (p.mark ? <mark key={i}>{p.text}</mark> : <span key={i}>{p.text}</span>))}
    </>
  );
}

export function SearchResults({ query, onOpen }: { query: string; onOpen: (conversationId: string, seq: number) => void }) {
  const client = useParley();
  const q = useDebounced(query, 250);
  const [state, setState] = useState<State>({ status: 'loading' });

  useEffect(() => {
    let live = true;
    setState({ status: 'loading' });
    client.search(Array.from(q).slice(0, 200).join("")).then(
      (results) => live && setState({ status: 'done', results }),
      (err: unknown) => live && setState({ status: 'error', message: err instanceof Error ? err.message : String(err) }),
    );
    return () => {
      live = false;
    };
  }, [client, q]);

  const settled = q === query && state.status !== 'loading';
  return (
    <section className="search-results" aria-busy={!settled}>
      <div className="list-head">
        <h2>Messages</h2>
      </div>
      {state.status === 'error' && (
        <p className="list-empty form-error" role="alert">
          Search failed: {state.message}
        </p>
      )}
      {state.status === 'loading' && <p className="list-empty muted">Searching…</p>}
      {state.status === 'done' && state.results.length === 0 && <p className="list-empty muted">No messages match “{q}”.</p>}
      {state.status === 'done' && state.results.length > 0 && (
        <ul className="conv-list">
          {state.results.map((r) => {
            const c = client.conversations.get(r.conversationId);
            const title = c ? conversationTitle(c, client.me?.id) : 'Conversation';
            const snip = snippetAroundHit(r.content, r.highlights);
            return (
              <li key={r.id}>
                <button type="button" className="conv-row result-row" onClick={() => onOpen(r.conversationId, r.seq)}>
                  <span className="conv-main">
                    <span className="conv-top">
                      <span className="conv-title">{title}</span>
                      <time className="conv-time" dateTime={r.createdAt}>
                        {shortTime(r.createdAt)}
                      </time>
                    </span>
                    <span className="result-text">
                      {c?.type === 'group' || r.senderId === client.me?.id ? (
                        <span className="result-sender">{memberName(c, r.senderId, client.me?.id)}: </span>
                      ) : null}
                      <Highlighted content={snip.content} ranges={snip.ranges} />
                    </span>
                  </span>
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
