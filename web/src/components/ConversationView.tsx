import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type DragEvent, type ReactNode } from 'react';
import { conversationTitle, dayKey, dayLabel, hue, lastSeen, memberName, otherMember } from '../format';
import { useParley } from '../hooks/useParley';
import { useUploads } from '../hooks/useUploads';
import type { Conversation, Message, User } from '../parley';
import { Avatar } from './Avatar';
import type { JumpTarget } from './ChatApp';
import { Composer } from './Composer';
import { IconArchive, IconBack } from './icons';
import { MessageItem, PendingItem } from './MessageItem';
import { NotificationSettingsButton } from './NotificationSettings';

const NEAR_TOP_PX = 300;
const AT_BOTTOM_PX = 48;
const RUN_GAP_MS = 5 * 60_000;

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function useNarrow(): boolean {
  const query = '(max-width: 699px)';
  const [narrow, setNarrow] = useState(() => window.matchMedia(query).matches);
  useEffect(() => {
    const mq = window.matchMedia(query);
    const on = () => setNarrow(mq.matches);
    mq.addEventListener('change', on);
    return () => mq.removeEventListener('change', on);
  }, []);
  return narrow;
}

export function ConversationView({ conversation: c, jump, onBack }: { conversation: Conversation; jump: JumpTarget | null; onBack: () => void }) {
  const client = useParley();
  const meId = client.me?.id;
  const online = client.connection === 'online';
  const narrow = useNarrow();
  const timeline = client.messages.timeline(c.id);
  const { messages, pending } = timeline;

  const [opened, setOpened] = useState(false);
  const [openError, setOpenError] = useState<string | null>(null);
  const [olderState, setOlderState] = useState<'idle' | 'loading' | 'error'>('idle');
  const [gapLoading, setGapLoading] = useState(false);
  const [target, setTarget] = useState<JumpTarget | null>(null);
  const [flashSeq, setFlashSeq] = useState<number | null>(null);
  const [awayFromBottom, setAwayFromBottom] = useState(false);
  const [replyTo, setReplyTo] = useState<Message | null>(null);
  const [composerFocus, setComposerFocus] = useState(0);
  const [dragging, setDragging] = useState(false);
  const dragDepth = useRef(0);
  const uploads = useUploads(c.id);

  const scroller = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const forceBottom = useRef(false);
  const last = useRef<{ oldest: number | null; height: number }>({ oldest: null, height: 0 });
  const loadingOlder = useRef(false);

  // Join (typing, the latest page) now and again after every reconnect: a new socket joins afresh.
  useEffect(() => {
    if (!online) return;
    let live = true;
    setOpenError(null);
    client.open(c.id).then(
      () => live && setOpened(true),
      (err: unknown) => live && setOpenError(errorText(err)),
    );
    return () => {
      live = false;
    };
  }, [client, c.id, online]);
  useEffect(() => () => void client.close(c.id), [client, c.id]);

  // A search hit: load the messages around it, then scroll there.
  useEffect(() => {
    if (!jump) return;
    let live = true;
    client.loadAround(c.id, jump.seq).then(
      () => live && setTarget(jump),
      () => live && setTarget(jump), // show what we have
    );
    return () => {
      live = false;
    };
  }, [client, c.id, jump]);

  const hasOlder = timeline.oldestSeq !== null && timeline.oldestSeq > 1;

  const loadOlder = useCallback(() => {
    if (loadingOlder.current) return;
    loadingOlder.current = true;
    setOlderState('loading');
    const before = client.messages.timeline(c.id).oldestSeq;
    client.loadOlder(c.id).then(
      () => {
        loadingOlder.current = false;
        // Nothing new arrived: stop fetching by itself and offer a button instead.
        setOlderState(client.messages.timeline(c.id).oldestSeq === before ? 'error' : 'idle');
      },
      () => {
        loadingOlder.current = false;
        setOlderState('error');
      },
    );
  }, [client, c.id]);

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < AT_BOTTOM_PX;
    setAwayFromBottom(el.scrollHeight - el.scrollTop - el.clientHeight > el.clientHeight);
    if (el.scrollTop < NEAR_TOP_PX && hasOlder && opened && olderState === 'idle') loadOlder();
  };

  // Keep the view where the reader expects it after every change of the list.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const oldest = timeline.oldestSeq;
    if (target) {
      const node = el.querySelector<HTMLElement>(`[data-seq="${target.seq}"]`);
      if (node) {
        node.scrollIntoView({ block: 'center' });
        atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < AT_BOTTOM_PX;
        setFlashSeq(target.seq);
        setTarget(null);
      }
    } else if (forceBottom.current || atBottom.current) {
      forceBottom.current = false;
      el.scrollTop = el.scrollHeight;
      atBottom.current = true;
    } else if (last.current.oldest !== null && oldest !== null && oldest < last.current.oldest) {
      // Older messages went in above: keep what the reader sees in place.
      el.scrollTop += el.scrollHeight - last.current.height;
    }
    last.current = { oldest, height: el.scrollHeight };
    // A short page leaves nothing to scroll: fetch more history right away.
    if (opened && hasOlder && olderState === 'idle' && el.scrollHeight <= el.clientHeight + NEAR_TOP_PX) loadOlder();
  });

  // Stay at the bottom when the viewport shrinks (phone keyboard, composer growing).
  useEffect(() => {
    const el = scroller.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(() => {
      if (atBottom.current) el.scrollTop = el.scrollHeight;
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  useEffect(() => {
    if (flashSeq === null) return;
    const t = setTimeout(() => setFlashSeq(null), 2000);
    return () => clearTimeout(t);
  }, [flashSeq]);

  // Mark read when new messages from others are in view and the window has focus.
  const latestSeq = messages[messages.length - 1]?.seq ?? 0;
  const readUpTo = useRef(0);
  const unread = c.unreadCount;
  useEffect(() => {
    const check = () => {
      if (!online || latestSeq === 0) return;
      if (!document.hasFocus() || document.visibilityState !== 'visible') return;
      const othersNew = latestSeq > readUpTo.current && messages.some((m) => m.seq > readUpTo.current && m.senderId !== meId);
      if (!othersNew && unread === 0) return;
      readUpTo.current = latestSeq;
      void client.markRead(c.id, latestSeq);
    };
    check();
    window.addEventListener('focus', check);
    document.addEventListener('visibilitychange', check);
    return () => {
      window.removeEventListener('focus', check);
      document.removeEventListener('visibilitychange', check);
    };
  }, [client, c.id, latestSeq, unread, messages, meId, online]);

  const onEdit = useCallback((m: Message, content: string) => client.edit(m.id, content), [client]);
  const onDelete = useCallback((m: Message) => client.remove(m.id), [client]);
  const onReply = useCallback((m: Message) => {
    setReplyTo(m);
    setComposerFocus((n) => n + 1);
  }, []);
  const onReact = useCallback((m: Message, emoji: string, add: boolean) => (add ? client.react(m.id, emoji) : client.unreact(m.id, emoji)), [client]);
  // A quote's target: scroll to it and flash it (loading the messages around it first when they are not here).
  const onShow = useCallback(
    (seq: number) => {
      const here = scroller.current?.querySelector(`[data-seq="${seq}"]`);
      if (here) setTarget({ seq, nonce: Date.now() });
      else client.loadAround(c.id, seq).finally(() => setTarget({ seq, nonce: Date.now() }));
    },
    [client, c.id],
  );
  const people = useMemo(() => new Map<string, User>(c.members.map((u) => [u.id, u])), [c.members]);

  // The message being replied to, as it is now (edits show; a deletion ends the reply).
  const replyTarget = replyTo ? (messages.find((m) => m.id === replyTo.id) ?? replyTo) : null;

  // Files dropped anywhere on the conversation are attached.
  const hasFiles = (e: DragEvent) => e.dataTransfer.types.includes('Files');
  const dropHandlers = {
    onDragEnter: (e: DragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      dragDepth.current++;
      setDragging(true);
    },
    onDragOver: (e: DragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = 'copy';
    },
    onDragLeave: (e: DragEvent) => {
      if (!hasFiles(e)) return;
      dragDepth.current = Math.max(0, dragDepth.current - 1);
      if (dragDepth.current === 0) setDragging(false);
    },
    onDrop: (e: DragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      dragDepth.current = 0;
      setDragging(false);
      if (e.dataTransfer.files.length > 0) uploads.add(e.dataTransfer.files);
      setComposerFocus((n) => n + 1);
    },
  };

  const fillGap = (from: number) => {
    if (gapLoading) return;
    setGapLoading(true);
    // loadAround(s) loads seqs s-25 … s+24: the 50 from `from`.
    client.loadAround(c.id, from + 25).finally(() => setGapLoading(false));
  };

  // ---- header ----
  const title = conversationTitle(c, meId);
  const other = otherMember(c, meId);
  let status: string;
  if (c.type === 'group') {
    const on = c.members.filter((u) => u.id !== meId && (client.online.get(u.id) ?? u.online)).length;
    status = `${c.members.length} member${c.members.length === 1 ? '' : 's'}${on > 0 ? `, ${on} online` : ''}`;
  } else if (other) {
    status = (client.online.get(other.id) ?? other.online) ? 'online' : lastSeen(other.lastSeenAt);
  } else status = 'Notes to yourself';
  const isOnline = status === 'online';

  // ---- typing ----
  const typists = [...(client.typing.get(c.id) ?? [])].filter((id) => id !== meId).map((id) => memberName(c, id, meId));
  const typingText =
    typists.length === 0
      ? ''
      : typists.length === 1
        ? `${typists[0]} is typing…`
        : typists.length === 2
          ? `${typists[0]} and ${typists[1]} are typing…`
          : `${typists[0]}, ${typists[1]} and ${typists.length - 2} more are typing…`;

  // ---- the list, with day separators and runs of one sender ----
  const rows: ReactNode[] = [];
  let prev: { senderId: string; at: number; day: string; seq: number } | null = null;
  for (const m of messages) {
    const day = dayKey(m.createdAt);
    const at = new Date(m.createdAt).getTime();
    if (prev && m.seq > prev.seq + 1) {
      const from = prev.seq + 1;
      rows.push(
        <div key={`gap-${from}`} className="gap">
          <button type="button" className="btn small" disabled={gapLoading} onClick={() => fillGap(from)}>
            {gapLoading ? 'Loading…' : `Show ${m.seq - from} more message${m.seq - from === 1 ? '' : 's'}`}
          </button>
        </div>,
      );
    }
    const newDay = !prev || prev.day !== day;
    if (newDay) {
      rows.push(
        <div key={`day-${day}-${m.seq}`} className="day-sep">
          <span>{dayLabel(m.createdAt)}</span>
        </div>,
      );
    }
    const runStart = !prev || newDay || prev.senderId !== m.senderId || at - prev.at > RUN_GAP_MS || m.seq > prev.seq + 1;
    const own = m.senderId === meId;
    rows.push(
      <MessageItem
        key={m.seq}
        message={m}
        own={own}
        meId={meId}
        people={people}
        senderName={c.type === 'group' && !own && runStart ? memberName(c, m.senderId, meId) : null}
        senderHue={hue(m.senderId)}
        runStart={runStart}
        flash={flashSeq === m.seq}
        onEdit={onEdit}
        onDelete={onDelete}
        onReply={onReply}
        onReact={onReact}
        onShow={onShow}
      />,
    );
    prev = { senderId: m.senderId, at, day, seq: m.seq };
  }
  for (const p of pending) {
    const day = dayKey(p.createdAt);
    if (!prev || prev.day !== day) {
      rows.push(
        <div key={`day-${day}-pending`} className="day-sep">
          <span>{dayLabel(p.createdAt)}</span>
        </div>,
      );
    }
    const runStart = !prev || prev.senderId !== meId || prev.day !== day;
    rows.push(<PendingItem key={p.clientId} p={p} runStart={runStart} onRetry={() => client.retry(c.id, p.clientId)} onDiscard={() => client.discard(c.id, p.clientId)} />);
    prev = { senderId: meId ?? '', at: new Date(p.createdAt).getTime(), day, seq: prev?.seq ?? 0 };
  }

  return (
    <section className={`conversation ${dragging ? 'dragging' : ''}`} aria-label={title} {...dropHandlers}>
      <header className="conv-head">
        <button type="button" className="icon-btn back" aria-label="Back" title="Back to conversations" onClick={onBack}>
          <IconBack width={22} height={22} />
        </button>
        <Avatar id={other?.id ?? c.id} name={title} group={c.type === 'group'} size={38} />
        <div className="conv-head-text">
          <h2 className="conv-head-title">{title}</h2>
          <div className={`conv-head-status ${isOnline ? 'is-online' : ''}`}>{status}</div>
        </div>
        <NotificationSettingsButton conversation={c} />
        <button
          type="button"
          className="btn ghost small"
          onClick={() => void client.setArchived(c.id, !c.archived).catch(() => undefined)}
          title={c.archived ? 'Move back to the inbox' : 'Hide from the inbox'}
        >
          <IconArchive width={16} height={16} />
          <span className="label-wide-only">{c.archived ? 'Unarchive' : 'Archive'}</span>
        </button>
      </header>

      <div className="log-wrap">
        <div className="messages" ref={scroller} onScroll={onScroll} role="log" aria-label="Messages" tabIndex={0}>
          <div className="history-edge">
            {hasOlder ? (
              olderState === 'error' ? (
                <button type="button" className="btn small" onClick={loadOlder}>
                  Load earlier messages
                </button>
              ) : (
                <span className="muted">{olderState === 'loading' || !opened ? 'Loading earlier messages…' : ''}</span>
              )
            ) : opened || timeline.oldestSeq === 1 ? (
              <span className="muted">{messages.length === 0 && pending.length === 0 ? 'No messages yet. Say hello!' : 'This is the beginning of the conversation.'}</span>
            ) : null}
          </div>
          {openError && messages.length === 0 && (
            <p className="form-error center" role="alert">
              Could not load messages: {openError}
            </p>
          )}
          {rows}
        </div>
        {awayFromBottom && (
          <button
            type="button"
            className="jump-latest"
            onClick={() => {
              const el = scroller.current;
              if (el) el.scrollTop = el.scrollHeight;
              atBottom.current = true;
              setAwayFromBottom(false);
            }}
          >
            Jump to latest ↓
          </button>
        )}
      </div>

      <div className="typing" aria-live="polite">
        {typingText}
      </div>
      {dragging && (
        <div className="drop-hint" aria-hidden="true">
          Drop files to attach them
        </div>
      )}
      <Composer
        conversationId={c.id}
        members={c.members}
        meId={meId}
        replyTo={replyTarget && !replyTarget.deletedAt ? { message: replyTarget, name: memberName(c, replyTarget.senderId, meId) } : null}
        onCancelReply={() => setReplyTo(null)}
        uploads={uploads}
        autoFocus={!narrow}
        focusKey={composerFocus}
        onSent={() => (forceBottom.current = true)}
      />
    </section>
  );
}
