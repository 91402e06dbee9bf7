import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { useDebounced } from '../hooks/useDebounced';
import { useParley } from '../hooks/useParley';
import type { User } from '../parley';
import { Avatar } from './Avatar';
import { IconClose } from './icons';

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** "Find people": a debounced user search; picking a person calls onPick. */
function PeopleSearch({ onPick, exclude, autoFocus }: { onPick: (u: User) => void; exclude: ReadonlySet<string>; autoFocus?: boolean }) {
  const client = useParley();
  const id = useId();
  const [q, setQ] = useState('');
  const settled = useDebounced(q.trim(), 200);
  const [people, setPeople] = useState<User[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (!settled) {
      setPeople(null);
      setError(null);
      return;
    }
    let live = true;
    client.findPeople(settled).then(
      (users) => {
        if (!live) return;
        setPeople(users);
        setError(null);
      },
      (err: unknown) => live && setError(message(err)),
    );
    return () => {
      live = false;
    };
  }, [client, settled]);

  const shown = (people ?? []).filter((u) => u.id !== client.me?.id && !exclude.has(u.id));

  return (
    <div className="people-search">
      <div className="field">
        <label htmlFor={id}>Find people</label>
        <input
          id={id}
          type="text"
          autoComplete="off"
          autoCapitalize="none"
          spellCheck={false}
          placeholder="Name or username"
          autoFocus={autoFocus}
          value={q}
          onChange={(e) => setQ(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter') {
              e.preventDefault(); // not the surrounding form
              if (shown[0] && settled === q.trim()) onPick(shown[0]);
            }
          }}
        />
      </div>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      {settled && people && shown.length === 0 && <p className="muted small-text">Nobody found for “{settled}”.</p>}
      {shown.length > 0 && (
        <ul className="people-list" aria-label="People">
          {shown.map((u) => {
            const online = client.online.get(u.id) ?? u.online;
            return (
              <li key={u.id}>
                <button type="button" className="person" onClick={() => onPick(u)}>
                  <Avatar id={u.id} name={u.displayName} size={32} />
                  <span className="person-names">
                    <span className="person-name">{u.displayName}</span>
                    <span className="person-handle">@{u.username}</span>
                  </span>
                  {online && <span className="online-dot inline" role="img" aria-label="Online" title="Online" />}
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}

function PanelHead({ title, onClose }: { title: string; onClose: () => void }) {
  return (
    <div className="panel-head">
      <h2>{title}</h2>
      <button type="button" className="icon-btn" aria-label="Close" title="Close" onClick={onClose}>
        <IconClose />
      </button>
    </div>
  );
}

const NONE: ReadonlySet<string> = new Set();

export function NewChatPanel({ onClose, onOpened }: { onClose: () => void; onOpened: (conversationId: string) => void }) {
  const client = useParley();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function pick(u: User) {
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      const c = await client.createDirect(u.id);
      onOpened(c.id);
    } catch (err) {
      setError(message(err));
      setBusy(false);
    }
  }

  return (
    <section className="panel" aria-label="New chat">
      <PanelHead title="New chat" onClose={onClose} />
      <PeopleSearch onPick={(u) => void pick(u)} exclude={NONE} autoFocus />
      {error && (
        <p className="form-error" role="alert">
          Could not start the chat: {error}
        </p>
      )}
    </section>
  );
}

export function NewGroupPanel({ onClose, onOpened }: { onClose: () => void; onOpened: (conversationId: string) => void }) {
  const client = useParley();
  const titleId = useId();
  const [title, setTitle] = useState('');
  const [members, setMembers] = useState<User[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const titleRef = useRef<HTMLInputElement>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (busy) return;
    if (!title.trim()) {
      setError('Give the group a name.');
      titleRef.current?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const c = await client.createGroup(title.trim(), members.map((u) => u.id));
      onOpened(c.id);
    } catch (err) {
      setError(message(err));
      setBusy(false);
    }
  }

  return (
    <section className="panel" aria-label="New group">
      <PanelHead title="New group" onClose={onClose} />
      <form onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor={titleId}>Group name</label>
          <input ref={titleRef} id={titleId} type="text" autoComplete="off" autoFocus maxLength={200} value={title} onChange={(e) => setTitle(e.target.value)} />
        </div>
        <div className="chosen" aria-live="polite">
          {members.length === 0 ? (
            <p className="muted small-text">Add people below (you can add more later).</p>
          ) : (
            <ul className="chips" aria-label="Members to add">
              {members.map((u) => (
                <li key={u.id} className="chip">
                  <span>{u.displayName}</span>
                  <button
                    type="button"
                    className="chip-remove"
                    aria-label={`Remove ${u.displayName}`}
                    title={`Remove ${u.displayName}`}
                    onClick={() => setMembers(members.filter((m) => m.id !== u.id))}
                  >
                    <IconClose width={12} height={12} />
                  </button>
                </li>
              ))}
            </ul>
          )}
        </div>
        <PeopleSearch onPick={(u) => setMembers((ms) => (ms.some((m) => m.id === u.id) ? ms : [...ms, u]))} exclude={new Set(members.map((m) => m.id))} />
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="btn primary wide" disabled={busy}>
          Create group
        </button>
      </form>
    </section>
  );
}
