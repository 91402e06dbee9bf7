import { IconClose, IconReply } from './icons';

/** Above the composer while replying: "Replying to Bob: …", with a way out. */
export function ReplyBar({ name, preview, onCancel }: { name: string; preview: string; onCancel: () => void }) {
  return (
    <div className="reply-bar" role="status">
      <IconReply width={16} height={16} className="reply-bar-icon" />
      <div className="reply-bar-text">
        <span className="reply-bar-name">Replying to {name}</span>
        <span className="reply-bar-preview">{preview}</span>
      </div>
      <button type="button" className="icon-btn" aria-label="Cancel reply" title="Cancel reply (Escape)" onClick={onCancel}>
        <IconClose width={16} height={16} />
      </button>
    </div>
  );
}
