import { useEffect, useId, useLayoutEffect, useRef, useState, type KeyboardEvent } from 'react';
import { createPortal } from 'react-dom';
import { IconSmile } from './icons';

/** The common reactions, with the names screen readers and tooltips give them. */
export const QUICK_REACTIONS: ReadonlyArray<{ emoji: string; name: string }> = [
  { emoji: '👍', name: 'Thumbs up' },
  { emoji: '❤️', name: 'Red heart' },
  { emoji: '😂', name: 'Face with tears of joy' },
  { emoji: '🎉', name: 'Party popper' },
  { emoji: '😮', name: 'Surprised' },
  { emoji: '😢', name: 'Crying face' },
  { emoji: '🙏', name: 'Folded hands' },
  { emoji: '👀', name: 'Eyes' },
  { emoji: '🔥', name: 'Fire' },
  { emoji: '👏', name: 'Clapping hands' },
  { emoji: '✅', name: 'Check mark' },
  { emoji: '🤔', name: 'Thinking face' },
];
const COLUMNS = 6;

/**
 * The "Add reaction" button and its menu: a grid of emoji that arrow keys
 * move through (Home/End too), Enter or a click picks, Escape or a click
 * elsewhere closes; focus goes back to the button.
 */
export function ReactionPicker({ onPick, onOpenChange }: { onPick: (emoji: string) => void; onOpenChange?: (open: boolean) => void }) {
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  const [pos, setPos] = useState<{ left: number; top: number } | null>(null);
  const button = useRef<HTMLButtonElement>(null);
  const menu = useRef<HTMLDivElement>(null);
  const items = useRef<(HTMLButtonElement | null)[]>([]);
  const id = useId();

  const close = (refocus: boolean) => {
    setOpen(false);
    onOpenChange?.(false);
    if (refocus) button.current?.focus({ preventScroll: true });
  };

  // Beside the button, above it when there is room, kept inside the window.
  useLayoutEffect(() => {
    if (!open) return;
    const b = button.current?.getBoundingClientRect();
    const m = menu.current?.getBoundingClientRect();
    if (!b || !m) return;
    const top = b.top - m.height - 6 >= 8 ? b.top - m.height - 6 : Math.min(b.bottom + 6, window.innerHeight - m.height - 8);
    const left = Math.max(8, Math.min(b.left + b.width / 2 - m.width / 2, window.innerWidth - m.width - 8));
    setPos({ left, top });
  }, [open]);

  useEffect(() => {
    if (open && pos) items.current[active]?.focus({ preventScroll: true });
  }, [open, pos, active]);

  useEffect(() => {
    if (!open) return;
    const outside = (e: PointerEvent) => {
      const t = e.target as Node;
      if (!menu.current?.contains(t) && !button.current?.contains(t)) close(false);
    };
    const gone = () => close(false);
    document.addEventListener('pointerdown', outside, true);
    window.addEventListener('resize', gone);
    return () => {
      document.removeEventListener('pointerdown', outside, true);
      window.removeEventListener('resize', gone);
    };
  }, [open]);

  function onKeyDown(e: KeyboardEvent) {
    const n = QUICK_REACTIONS.length;
    let next: number | null = null;
    if (e.key === 'ArrowRight') next = (active + 1) % n;
    else if (e.key === 'ArrowLeft') next = (active - 1 + n) % n;
    else if (e.key === 'ArrowDown') next = active + COLUMNS < n ? active + COLUMNS : active % COLUMNS;
    else if (e.key === 'ArrowUp') next = active - COLUMNS >= 0 ? active - COLUMNS : active + COLUMNS * Math.floor((n - 1 - active) / COLUMNS);
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = n - 1;
    else if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      close(true);
      return;
    } else if (e.key === 'Tab') {
      e.preventDefault();
      close(true);
      return;
    }
    if (next !== null) {
      e.preventDefault();
      setActive(next);
    }
  }

  return (
    <>
      <button
        ref={button}
        type="button"
        className="icon-btn"
        aria-label="Add reaction"
        title="Add reaction"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={open ? id : undefined}
        onClick={() => {
          if (open) return close(false);
          setActive(0);
          setPos(null);
          setOpen(true);
          onOpenChange?.(true);
        }}
      >
        <IconSmile width={16} height={16} />
      </button>
      {open &&
        createPortal(
          <div
            ref={menu}
            id={id}
            className="reaction-picker"
            role="menu"
            aria-label="Add reaction"
            style={pos ? { left: pos.left, top: pos.top } : { visibility: 'hidden', left: 0, top: 0 }}
            onKeyDown={onKeyDown}
          >
            {QUICK_REACTIONS.map((r, i) => (
              <button
                key={r.emoji}
                ref={(el) => {
                  items.current[i] = el;
                }}
                type="button"
                role="menuitem"
                tabIndex={i === active ? 0 : -1}
                aria-label={r.name}
                title={r.name}
                className="reaction-option"
                onClick={() => {
                  close(true);
                  onPick(r.emoji);
                }}
                onFocus={() => setActive(i)}
              >
                <span aria-hidden="true">{r.emoji}</span>
              </button>
            ))}
          </div>,
          document.body,
        )}
    </>
  );
}
