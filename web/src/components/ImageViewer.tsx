import { useEffect, useRef, type KeyboardEvent } from 'react';
import { createPortal } from 'react-dom';
import { humanSize } from '../format';
import type { Attachment } from '../parley';
import { IconClose, IconDownload } from './icons';

const FOCUSABLE = 'a[href], button:not([disabled]), [tabindex]:not([tabindex="-1"])';

/**
 * An image at full size in a modal dialog: the page behind is inert, Tab
 * stays inside, Escape or Close shuts it and focus goes back where it was.
 */
export function ImageViewer({ attachment: a, onClose }: { attachment: Attachment; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const closeRef = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (!dialog.open) dialog.showModal();
    closeRef.current?.focus();
    return () => {
      if (dialog.open) dialog.close();
      opener?.focus({ preventScroll: true });
    };
  }, []);

  function trap(e: KeyboardEvent<HTMLDialogElement>) {
    if (e.key !== 'Tab') return;
    const items = [...(ref.current?.querySelectorAll<HTMLElement>(FOCUSABLE) ?? [])];
    const first = items[0];
    const last = items[items.length - 1];
    if (!first || !last) return;
    if (e.shiftKey && document.activeElement === first) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  }

  return createPortal(
    <dialog
      ref={ref}
      className="viewer"
      aria-modal="true"
      aria-label={a.name}
      onKeyDown={trap}
      onCancel={(e) => {
        e.preventDefault(); // Escape: close through React, so focus returns
        onClose();
      }}
      onClick={(e) => {
        if (e.target === e.currentTarget) onClose(); // the backdrop
      }}
    >
      <div className="viewer-bar">
        <span className="viewer-name">{a.name}</span>
        <span className="viewer-size">{humanSize(a.size)}</span>
        <a className="btn small" href={a.url} download={a.name}>
          <IconDownload width={16} height={16} />
          Download
        </a>
        <button ref={closeRef} type="button" className="btn small" onClick={onClose}>
          <IconClose width={16} height={16} />
          Close
        </button>
      </div>
      <div className="viewer-body" onClick={(e) => e.target === e.currentTarget && onClose()}>
        <img src={a.url} alt={a.name} width={a.width ?? undefined} height={a.height ?? undefined} />
      </div>
    </dialog>,
    document.body,
  );
}
