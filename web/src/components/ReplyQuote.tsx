import type { Reply } from '../parley';

/**
 * A reply's quote of its target (as the target is now: edits and deletion
 * show); a click shows the target in the conversation.
 */
export function ReplyQuote({ reply, name, hue, onShow }: { reply: Reply; name: string; hue: number; onShow: (seq: number) => void }) {
  return (
    <button
      type="button"
      className={`quote ${reply.deleted ? 'quote-deleted' : ''}`}
      style={{ ['--sender-hue' as string]: String(hue) }}
      title="Show the original message"
      data-reply-seq={reply.seq}
      onClick={() => onShow(reply.seq)}
    >
      <span className="sr-only">In reply to </span>
      <span className="quote-name">{name}</span>
      <span className="sr-only">: </span>
      <span className="quote-text">{reply.deleted ? 'Deleted message' : reply.preview || ' '}</span>
    </button>
  );
}
