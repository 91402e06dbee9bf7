import { memo, useEffect, useRef, useState, type ReactNode } from 'react';
import { clock, codePointLength, fullTime } from '../format';
import type { Message, PendingMessage } from '../parley';
import { FailedMark, IconEdit, IconTrash, PendingClock, StatusTick } from './icons';

const URL_RE = /\bhttps?:\/\/[^\s<>"]*[^\s<>".,:;!?'")\]}]/gi;

/** Text with its web addresses as links (React escapes the rest). */
function Linkified({ text }: { text: string }) {
  const out: ReactNode[] = [];
  let at = 0;
  for (const m of text.matchAll(URL_RE)) {
    const i = m.index ?? 0;
    if (i > at) out.push(text.slice(at, i));
    out.push(
      <a key={i} href={m[0]} target="_blank" rel="noopener noreferrer nofollow">
        {m[0]}
      </a>,
    );
    at = i + m[0].length;
  }
  if (at < text.length) out.push(text.slice(at));
  return <>{out}</>;
}

/** Just one to three emoji: shown larger, as chat apps do. */
const EMOJI_ONLY = /^(?:\p{Extended_Pictographic}(?:\uFE0F|\p{Emoji_Modifier})?(?:\u200D\p{Extended_Pictographic}(?:\uFE0F|\p{Emoji_Modifier})?)*|\p{Regional_Indicator}{2}|\s){1,8}$/u;
function isJumbo(text: string): boolean {
  if (!EMOJI_ONLY.test(text)) return false;
  const seg = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
  let n = 0;
  for (const s of seg.segment(text.trim())) if (s.segment.trim()) n++;
  return n <= 3;
}

export interface MessageItemProps {
  message: Message;
  own: boolean;
  senderName: string | null;
  senderHue: number;
  runStart: boolean;
  flash: boolean;
  onEdit: (m: Message, content: string) => Promise<unknown>;
  onDelete: (m: Message) => Promise<unknown>;
}

export const MessageItem = memo(function MessageItem({ message: m, own, senderName, senderHue, runStart, flash, onEdit, onDelete }: MessageItemProps) {
  const [editing, setEditing] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const deleted = m.deletedAt !== null;

  async function remove() {
    if (!window.confirm('Delete this message for everyone?')) return;
    setError(null);
    try {
      await onDelete(m);
    } catch (err) {
      setError(`Could not delete: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  return (
    <div
      className={`msg ${own ? 'own' : 'theirs'} ${runStart ? 'run-start' : ''} ${flash ? 'flash' : ''} ${editing ? 'editing' : ''}`}
      data-seq={m.seq}
      // Tapping an own message (touch screens have no hover) reveals Edit and Delete.
      tabIndex={own && !deleted ? -1 : undefined}
    >
      <div className={`bubble ${deleted ? 'is-deleted' : ''} ${!deleted && !editing && isJumbo(m.content) ? 'jumbo' : ''}`}>
        {senderName && (
          <div className="sender" style={{ ['--sender-hue' as string]: String(senderHue) }}>
            {senderName}
          </div>
        )}
        {editing ? (
          <EditForm
            initial={m.content}
            onCancel={() => setEditing(false)}
            onSave={async (content) => {
              await onEdit(m, content);
              setEditing(false);
            }}
          />
        ) : deleted ? (
          <div className="text">
            <em className="deleted">Message deleted</em>
            <span className={`meta-spacer ${own ? 'with-tick' : ''}`} />
          </div>
        ) : (
          <div className="text">
            <Linkified text={m.content} />
            <span className={`meta-spacer ${own ? 'with-tick' : ''} ${m.editedAt ? 'with-edited' : ''}`} />
          </div>
        )}
        {!editing && (
          <div className="meta">
            {m.editedAt && !deleted && <span className="edited">(edited)</span>}
            <time dateTime={m.createdAt} title={fullTime(m.createdAt)}>
              {clock(m.createdAt)}
            </time>
            {own && !deleted && <StatusTick status={m.status} />}
          </div>
        )}
        {own && !deleted && !editing && (
          <div className="msg-actions">
            <button type="button" className="icon-btn" aria-label="Edit" title="Edit" onClick={() => setEditing(true)}>
              <IconEdit width={16} height={16} />
            </button>
            <button type="button" className="icon-btn danger" aria-label="Delete" title="Delete" onClick={() => void remove()}>
              <IconTrash width={16} height={16} />
            </button>
          </div>
        )}
      </div>
      {error && (
        <p className="msg-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
});

function EditForm({ initial, onSave, onCancel }: { initial: string; onSave: (content: string) => Promise<void>; onCancel: () => void }) {
  const [text, setText] = useState(initial);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const ref = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.focus();
    el.setSelectionRange(el.value.length, el.value.length);
  }, []);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight, 240)}px`;
  }, [text]);

  async function save() {
    const content = text.trim();
    if (!content) {
      setError('A message cannot be empty. Use Delete to remove it.');
      return;
    }
    if (codePointLength(content) > 4000) {
      setError('Messages can be at most 4000 characters.');
      return;
    }
    if (content === initial) return onCancel();
    setBusy(true);
    setError(null);
    try {
      await onSave(content);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      setBusy(false);
    }
  }

  return (
    <form
      className="edit-form"
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      <textarea
        ref={ref}
        aria-label="Edit message"
        rows={1}
        value={text}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Escape') {
            e.preventDefault();
            onCancel();
          } else if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
            e.preventDefault();
            void save();
          }
        }}
      />
      {error && (
        <p className="msg-error" role="alert">
          {error}
        </p>
      )}
      <div className="edit-actions">
        <button type="button" className="btn small" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="btn small primary" disabled={busy}>
          Save
        </button>
      </div>
    </form>
  );
}

export function PendingItem({
  p,
  runStart,
  onRetry,
  onDiscard,
}: {
  p: PendingMessage;
  runStart: boolean;
  onRetry: () => void;
  onDiscard: () => void;
}) {
  const failed = p.state === 'failed';
  return (
    <div className={`msg own pending ${failed ? 'failed' : ''} ${runStart ? 'run-start' : ''}`} data-client-id={p.clientId}>
      <div className="bubble">
        <div className="text">
          <Linkified text={p.content} />
          <span className="meta-spacer with-tick" />
        </div>
        <div className="meta">
          <time dateTime={p.createdAt}>{clock(p.createdAt)}</time>
          {failed ? <FailedMark /> : <PendingClock />}
        </div>
      </div>
      {failed && (
        <div className="send-failed" role="alert">
          <span>Not sent{p.error ? `: ${p.error}` : ''}</span>
          <button type="button" className="btn small" onClick={onRetry}>
            Retry
          </button>
          <button type="button" className="btn ghost small" onClick={onDiscard}>
            Discard
          </button>
        </div>
      )}
    </div>
  );
}
