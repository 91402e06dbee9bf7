import { useEffect, useRef, useState } from 'react';
import { codePointLength } from '../format';
import { useParley } from '../hooks/useParley';
import { IconSend } from './icons';

const TYPING_EVERY_MS = 3000;
const MAX = 4000;

/** Drafts survive switching conversations (for this page's lifetime). */
const drafts = new Map<string, string>();

/** Forgets every draft (on sign-out: the next person on this page must not see them). */
export function clearDrafts(): void {
  drafts.clear();
}

export function Composer({ conversationId, onSent, autoFocus }: { conversationId: string; onSent: () => void; autoFocus: boolean }) {
  const client = useParley();
  const [text, setText] = useState(() => drafts.get(conversationId) ?? '');
  const [error, setError] = useState<string | null>(null);
  const ref = useRef<HTMLTextAreaElement>(null);
  const lastTypingAt = useRef(0);

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

  // Grow with the text, up to a limit (then it scrolls).
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight, 180)}px`;
  }, [text]);

  function change(value: string) {
    setText(value);
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

  function send() {
    const content = text.trim();
    if (!content) return; // nothing to send
    if (codePointLength(content) > MAX) {
      setError(`Messages can be at most ${MAX} characters (this one has ${codePointLength(content)}).`);
      return;
    }
    stopTyping();
    client.send(conversationId, content);
    setText('');
    drafts.delete(conversationId);
    onSent();
    ref.current?.focus();
  }

  const blank = !text.trim();
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
      <div className="composer-row">
        <textarea
          ref={ref}
          aria-label="Message"
          placeholder="Write a message"
          rows={1}
          value={text}
          onChange={(e) => change(e.target.value)}
          onBlur={stopTyping}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
              e.preventDefault();
              send();
            }
          }}
        />
        <button type="submit" className={`btn primary send ${blank ? 'blank' : ''}`} title="Send (Enter)">
          <IconSend width={18} height={18} />
          <span className="send-label">Send</span>
        </button>
      </div>
    </form>
  );
}
