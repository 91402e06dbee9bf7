import { useState } from 'react';
import { humanSize } from '../format';
import type { Attachment } from '../parley';
import { IconDownload, IconFile } from './icons';
import { ImageViewer } from './ImageViewer';

const THUMB_MAX = 320;

/** The size the server's thumbnail has (longer side at most 320 px, never enlarged): reserved before it loads. */
export function thumbnailBox(a: Attachment): { width: number; height: number } {
  if (!a.width || !a.height) return { width: THUMB_MAX, height: Math.round((THUMB_MAX * 3) / 4) };
  const scale = Math.min(1, THUMB_MAX / Math.max(a.width, a.height));
  return { width: Math.max(1, Math.round(a.width * scale)), height: Math.max(1, Math.round(a.height * scale)) };
}

/** A message's files: images as thumbnails that open a viewer, other files as download chips. */
export function Attachments({ attachments }: { attachments: Attachment[] }) {
  const [viewing, setViewing] = useState<Attachment | null>(null);
  if (attachments.length === 0) return null;
  const images = attachments.filter((a) => a.thumbnailUrl !== null);
  const files = attachments.filter((a) => a.thumbnailUrl === null);
  return (
    <div className="attachments">
      {images.length > 0 && (
        <div className={`attachment-images ${images.length > 1 ? 'several' : ''}`}>
          {images.map((a) => {
            const box = thumbnailBox(a);
            return (
              <button key={a.id} type="button" className="attachment-image" title="View full size" onClick={() => setViewing(a)}>
                <img src={a.thumbnailUrl ?? undefined} alt={a.name} width={box.width} height={box.height} decoding="async" />
              </button>
            );
          })}
        </div>
      )}
      {files.map((a) => (
        <a key={a.id} className="file-chip" href={a.url} download={a.name} title={`Download ${a.name}`}>
          <IconFile width={22} height={22} className="file-icon" />
          <span className="file-text">
            <span className="file-name">{a.name}</span>
            <span className="file-size">{humanSize(a.size)}</span>
          </span>
          <IconDownload width={18} height={18} className="file-download" />
        </a>
      ))}
      {viewing && <ImageViewer attachment={viewing} onClose={() => setViewing(null)} />}
    </div>
  );
}
