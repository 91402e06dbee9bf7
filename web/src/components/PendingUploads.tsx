import { humanSize } from '../format';
import type { Upload } from '../hooks/useUploads';
import { IconClose, IconFile } from './icons';

/** The files going with the next message: progress while uploading, a button to cancel or remove each. */
export function PendingUploads({ uploads, onRemove }: { uploads: Upload[]; onRemove: (key: string) => void }) {
  if (uploads.length === 0) return null;
  return (
    <ul className="uploads" aria-label="Files to send">
      {uploads.map((u) => {
        const pct = u.total > 0 ? Math.round((u.sent / u.total) * 100) : 0;
        const thumb = u.attachment?.thumbnailUrl ?? null;
        return (
          <li key={u.key} className={`upload ${u.state}`} data-upload-state={u.state}>
            {thumb ? <img className="upload-thumb" src={thumb} alt="" width={36} height={36} /> : <IconFile width={22} height={22} className="upload-icon" />}
            <span className="upload-text">
              <span className="upload-name">{u.name}</span>
              {u.state === 'uploading' ? (
                <progress className="upload-progress" max={100} value={pct} aria-label={`Uploading ${u.name}`} />
              ) : u.state === 'failed' ? (
                <span className="upload-error" role="alert">
                  Upload failed: {u.error}
                </span>
              ) : (
                <span className="upload-size">{humanSize(u.size)}</span>
              )}
            </span>
            <button
              type="button"
              className="icon-btn"
              aria-label={u.state === 'uploading' ? `Cancel upload of ${u.name}` : `Remove ${u.name}`}
              title={u.state === 'uploading' ? 'Cancel upload' : 'Remove'}
              onClick={() => onRemove(u.key)}
            >
              <IconClose width={16} height={16} />
            </button>
          </li>
        );
      })}
    </ul>
  );
}
