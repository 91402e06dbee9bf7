import { memo, useEffect, useMemo, useRef, useState, type PointerEvent } from 'react';
import { clock, codePointLength, fullTime, hue } from '../format';
import type { Message, PendingMessage, User } from '../parley';
import { Attachments } from './Attachments';
import { FailedMark, IconEdit, IconReply, IconTrash, PendingClock, StatusTick } from './icons';
import { MessageText } from './MessageText';
import { ReactionChips } from './Reactions';
import { ReactionPicker } from './ReactionPicker';
import { ReplyQuote } from './ReplyQuote';

/** How far a finger drags a message to the right to reply to it. */
const SWIPE_REPLY_PX = 60;

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
  meId: string | undefined;
  /** The conversation's members by id. */
  people: ReadonlyMap<string, User>;
  senderName: string | null;
  senderHue: number;
  runStart: boolean;
  flash: boolean;
  onEdit: (m: Message, content: string) => Promise<unknown>;
  onDelete: (m: Message) => Promise<unknown>;
  onReply: (m: Message) => void;
  onReact: (m: Message, emoji: string, add: boolean) => Promise<unknown>;
  /** Shows the message `seq` (a quote's target). */
  onShow: (seq: number) => void;
}

export const MessageItem = memo(function MessageItem(props: MessageItemProps) {
  const { message: m, own, meId, people, senderName, senderHue, runStart, flash, onEdit, onDelete, onReply, onReact, onShow } = props;
  const [editing, setEditing] = useState(false);
  const [picking, setPicking] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const deleted = m.deletedAt !== null;
  const swipe = useSwipeToReply(() => onReply(m), !deleted && !editing);

  // Lower-cased username → id of the members this message mentions (as the server found them).
  const mentionNames = useMemo(() => {
    const map = new Map<string, string>();
    for (const id of m.mentions) {
      const u = people.get(id);
      if (u) map.set(u.username.toLowerCase(), id);
    }
    return map;
  }, [m.mentions, people]);
  const usernameOf = (id: string) => (id === meId ? 'You' : (people.get(id)?.username ?? 'someone'));
  const displayNameOf = (id: string) => (id === meId ? 'You' : (people.get(id)?.displayName ?? 'Someone'));

  async function react(emoji: string, add: boolean) {
    setError(null);
    try {
      await onReact(m, emoji, add);
    } catch (err) {
      setError(`Could not ${add ? 'add' : 'remove'} the reaction: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

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
      className={`msg ${own ? 'own' : 'theirs'} ${runStart ? 'run-start' : ''} ${flash ? 'flash' : ''} ${editing ? 'editing' : ''} ${picking ? 'actions-open' : ''}`}
      data-seq={m.seq}
      // Tapping a message (touch screens have no hover) reveals its actions.
      tabIndex={!deleted ? -1 : undefined}
      {...swipe.handlers}
    >
      <div
        className={`bubble ${deleted ? 'is-deleted' : ''} ${!deleted && !editing && m.attachments.length === 0 && isJumbo(m.content) ? 'jumbo' : ''}`}
        style={swipe.offset ? { transform: `translateX(${swipe.offset}px)` } : undefined}
      >
        {senderName && (
          <div className="sender" style={{ ['--sender-hue' as string]: String(senderHue) }}>
            {senderName}
          </div>
        )}
        {m.replyTo && !deleted && <ReplyQuote reply={m.replyTo} name={displayNameOf(m.replyTo.senderId)} hue={hue(m.replyTo.senderId)} onShow={onShow} />}
        {!deleted && <Attachments attachments={m.attachments} />}
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
          <div className={`text ${m.content ? '' : 'no-text'}`}>
            <MessageText text={m.content} names={mentionNames} meId={meId} />
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
        {!deleted && !editing && (
          <div className="msg-actions">
            <button type="button" className="icon-btn" aria-label="Reply" title="Reply" onClick={() => onReply(m)}>
              <IconReply width={16} height={16} />
            </button>
            <ReactionPicker onPick={(emoji) => void react(emoji, true)} onOpenChange={setPicking} />
            {own && (
              <>
                <button type="button" className="icon-btn" aria-label="Edit" title="Edit" onClick={() => setEditing(true)}>
                  <IconEdit width={16} height={16} />
                </button>
                <button type="button" className="icon-btn danger" aria-label="Delete" title="Delete" onClick={() => void remove()}>
                  <IconTrash width={16} height={16} />
                </button>
              </>
            )}
          </div>
        )}
      </div>
      {!deleted && <ReactionChips reactions={m.reactions} meId={meId} nameOf={usernameOf} onToggle={(emoji, mine) => void react(emoji, !mine)} />}
      {error && (
        <p className="msg-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
});

/**
 * Swipe right on a touch screen to reply (as phone chat apps do): the
 * bubble follows the finger; past SWIPE_REPLY_PX, letting go replies.
 */
function useSwipeToReply(onReply: () => void, enabled: boolean) {
  const start = useRef<{ id: number; x: number; y: number; horizontal: boolean | null } | null>(null);
  const [offset, setOffset] = useState(0);
  const end = (e: PointerEvent) => {
    const s = start.current;
    if (!s || s.id !== e.pointerId) return;
    start.current = null;
    const dx = e.clientX - s.x;
    setOffset(0);
    if (s.horizontal && dx >= SWIPE_REPLY_PX && e.type === 'pointerup') onReply();
  };
  return {
    offset,
    handlers: {
      onPointerDown: (e: PointerEvent) => {
        if (!enabled || e.pointerType !== 'touch') return;
        start.current = { id: e.pointerId, x: e.clientX, y: e.clientY, horizontal: null };
      },
      onPointerMove: (e: PointerEvent) => {
        const s = start.current;
        if (!s || s.id !== e.pointerId) return;
        const dx = e.clientX - s.x;
        const dy = e.clientY - s.y;
        if (s.horizontal === null && Math.hypot(dx, dy) > 10) s.horizontal = Math.abs(dx) > Math.abs(dy) && dx > 0;
        if (s.horizontal) setOffset(Math.max(0, Math.min(dx, SWIPE_REPLY_PX + 20)));
      },
      onPointerUp: end,
      onPointerCancel: end,
    },
  };
}

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
        {(p.attachmentIds?.length ?? 0) > 0 && (
          <div className="pending-files muted">
            📎 Sending {p.attachmentIds!.length} file{p.attachmentIds!.length === 1 ? '' : 's'}…
          </div>
        )}
        <div className="text">
          <MessageText text={p.content} />
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
