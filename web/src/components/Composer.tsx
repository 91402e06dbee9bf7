import { useEffect, useRef, useState } from 'react';
import { codePointLength } from '../format';
import { useMentionAutocomplete } from '../hooks/useMentionAutocomplete';
import { useParley } from '../hooks/useParley';
import type { Uploads } from '../hooks/useUploads';
import { markEngaged } from '../notifications';
import type { Message, User } from '../parley';
import { IconPaperclip, IconSend } from './icons';
import { MentionSuggestions } from './MentionSuggestions';
import { PendingUploads } from './PendingUploads';
import { ReplyBar } from './ReplyBar';

const TYPING_EVERY_MS = 3000;
const MAX = 4000;

/** Drafts survive switching conversations (for this page's lifetime). */
const drafts = new Map<string, string>();

/** Forgets every draft (on sign-out: the next person on this page must not see them). */
export function clearDrafts(): void {
  drafts.clear();
}

export interface ComposerProps {
  conversationId: string;
  members: User[];
  meId: string | undefined;
  /** The message being replied to, and its sender's name. */
  replyTo: { message: Message; name: string } | null;
  onCancelReply: () => void;
  uploads: Uploads;
  onSent: () => void;
  autoFocus: boolean;
  /** Changes when something (Reply) wants the focus here. */
  focusKey: number;
}

export function Composer({ conversationId, members, meId, replyTo, onCancelReply, uploads, onSent, autoFocus, focusKey }: ComposerProps) {
  const client = useParley();
  const [text, setText] = useState(() => drafts.get(conversationId) ?? '');
  const [error, setError] = useState<string | null>(null);
  const ref = useRef<HTMLTextAreaElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const lastTypingAt = useRef(0);
  const caretAfter = useRef<number | null>(null);
  const mentions = useMentionAutocomplete(members, meId);

  const stopTyping = () => {
    if (lastTypingAt.current === 0) return;
    lastTypingAt.current = 0;
    client.setTyping(conversationId, false);
  };

  useEffect(() => {
    drafts.set(conversationId, text);
  }, [conversationId, text]);

  // Leaving the conversation stops "typing" at once.
  useEffect(
    () => () => {
      if (lastTypingAt.current !== 0) client.setTyping(conversationId, false);
    },
    [client, conversationId],
  );

  useEffect(() => {
    if (autoFocus) ref.current?.focus({ preventScroll: true });
  }, [autoFocus]);
  useEffect(() => {
    if (focusKey > 0) ref.current?.focus({ preventScroll: true });
  }, [focusKey]);

  // Grow with the text, up to a limit (then it scrolls); put the caret after a picked mention.
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight, 180)}px`;
    if (caretAfter.current !== null) {
      el.setSelectionRange(caretAfter.current, caretAfter.current);
      caretAfter.current = null;
    }
  }, [text]);

  function change(value: string, caret: number) {
    setText(value);
    mentions.update(value, caret);
    if (error) setError(null);
    if (!value.trim()) {
      stopTyping();
      return;
    }
    const now = Date.now();
    if (now - lastTypingAt.current >= TYPING_EVERY_MS) {
      lastTypingAt.current = now;
      client.setTyping(conversationId, true);
    }
  }

  function pickMention(u: User) {
    const el = ref.current;
    const caret = el?.selectionStart ?? text.length;
    const done = mentions.complete(text, caret, u);
    caretAfter.current = done.caret;
    setText(done.text);
    el?.focus();
  }

  const ready = uploads.uploads.filter((u) => u.state === 'done').length;

  function send() {
    if (uploads.busy) {
      setError('Wait for the files to finish uploading.');
      return;
    }
    if (uploads.failed) {
      setError('Remove the files that could not be uploaded first.');
      return;
    }
    const content = text.trim();
    if (!content && ready === 0) return; // nothing to send
    if (codePointLength(content) > MAX) {
      setError(`Messages can be at most ${MAX} characters (this one has ${codePointLength(content)}).`);
      return;
    }
    stopTyping();
    const attachmentIds = uploads.take();
    client.send(conversationId, content, {
      ...(replyTo ? { replyToId: replyTo.message.id } : {}),
      ...(attachmentIds.length > 0 ? { attachmentIds } : {}),
    });
    setText('');
    mentions.update('', 0);
    drafts.delete(conversationId);
    if (replyTo) onCancelReply();
    onSent();
    markEngaged();
    ref.current?.focus();
  }

  const blank = !text.trim() && ready === 0;
  return (
    <form
      className="composer"
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      {error && (
        <p className="form-error composer-error" role="alert">
          {error}
        </p>
      )}
      {uploads.notice && (
        <p className="form-error composer-error" role="alert">
          {uploads.notice}
        </p>
      )}
      {replyTo && (
        <ReplyBar
          name={replyTo.name}
          preview={replyTo.message.content || (replyTo.message.attachments.length > 0 ? `📎 ${replyTo.message.attachments[0]!.name}` : '')}
          onCancel={() => {
            onCancelReply();
            ref.current?.focus();
          }}
        />
      )}
      <PendingUploads uploads={uploads.uploads} onRemove={uploads.remove} />
      <div className="composer-row">
        <button type="button" className="icon-btn attach" aria-label="Attach files" title="Attach files" onClick={() => fileInput.current?.click()}>
          <IconPaperclip width={20} height={20} />
        </button>
        <input
          ref={fileInput}
          type="file"
          multiple
          hidden
          aria-label="Files to attach"
          onChange={(e) => {
            if (e.target.files) uploads.add(e.target.files);
            e.target.value = '';
          }}
        />
        <div className="composer-input">
          {mentions.open && (
            <MentionSuggestions
              id={mentions.listId}
              optionId={mentions.optionId}
              people={mentions.matches}
              active={mentions.active}
              onPick={pickMention}
              onHover={mentions.setActive}
            />
          )}
          <textarea
            ref={ref}
            aria-label="Message"
            placeholder="Write a message"
            rows={1}
            value={text}
            {...mentions.inputProps}
            onChange={(e) => change(e.target.value, e.target.selectionStart)}
            onSelect={(e) => mentions.update(e.currentTarget.value, e.currentTarget.selectionStart)}
            onBlur={() => {
              stopTyping();
            }}
            onPaste={(e) => {
              const files = [...e.clipboardData.files];
              if (files.length === 0) return;
              e.preventDefault();
              uploads.add(files);
            }}
            onKeyDown={(e) => {
              if (e.nativeEvent.isComposing) return;
              if (mentions.onKey(e.key, pickMention)) {
                e.preventDefault();
                return;
              }
              if (e.key === 'Escape' && replyTo) {
                e.preventDefault();
                onCancelReply();
              } else if (e.key === 'Enter' && !e.shiftKey) {
                e.preventDefault();
                send();
              }
            }}
          />
        </div>
        <button type="submit" className={`btn primary send ${blank ? 'blank' : ''}`} title="Send (Enter)" disabled={uploads.busy}>
          <IconSend width={18} height={18} />
          <span className="send-label">{uploads.busy ? 'Uploading…' : 'Send'}</span>
        </button>
      </div>
    </form>
  );
}
