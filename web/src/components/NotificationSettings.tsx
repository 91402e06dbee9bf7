import { useEffect, useId, useRef, useState, type RefObject } from 'react';
import { useNotify } from '../hooks/useNotifications';
import { useParley } from '../hooks/useParley';
import { dismissPrompt, engaged, mutedUntil, onEngaged, promptDismissed, type NotificationLevel } from '../notifications';
import type { Conversation } from '../parley';
import { IconBell, IconBellOff, IconClose } from './icons';

const LEVELS: { value: NotificationLevel; label: string }[] = [
  { value: 'all', label: 'All messages' },
  { value: 'mentions', label: 'Only @mentions' },
  { value: 'none', label: 'Nothing' },
];

type MuteChoice = 'off' | '1h' | '8h' | 'tomorrow' | 'custom';
const MUTES: { value: MuteChoice; label: string }[] = [
  { value: 'off', label: 'Off' },
  { value: '1h', label: '1 hour' },
  { value: '8h', label: '8 hours' },
  { value: 'tomorrow', label: 'Until tomorrow 8:00' },
  { value: 'custom', label: 'Until a time I choose' },
];

function muteEnd(choice: Exclude<MuteChoice, 'custom'>, now = new Date()): Date | null {
  switch (choice) {
    case 'off':
      return null;
    case '1h':
      return new Date(now.getTime() + 3_600_000);
    case '8h':
      return new Date(now.getTime() + 8 * 3_600_000);
    case 'tomorrow':
      return new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1, 8, 0, 0, 0);
  }
}

const pad = (n: number) => String(n).padStart(2, '0');
/** A local time as <input type="datetime-local"> writes it. */
function localInput(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** "14:05" today, "tomorrow 08:00", else a date and time. */
export function untilText(d: Date, now = new Date()): string {
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  const day = (x: Date) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const days = Math.round((day(d) - day(now)) / 86_400_000);
  if (days === 0) return time;
  if (days === 1) return `tomorrow ${time}`;
  return `${d.toLocaleDateString(undefined, { weekday: 'short', day: 'numeric', month: 'short' })} ${time}`;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Re-renders when the earliest of `times` passes (a mute ending), so what is
 * shown as muted stops being shown then.
 */
export function useRerenderAt(times: (Date | null)[]): void {
  const [, setTick] = useState(0);
  const next = Math.min(...times.map((t) => (t ? t.getTime() : Infinity)));
  useEffect(() => {
    if (!Number.isFinite(next)) return;
    // setTimeout takes at most 2^31-1 ms: a far mute re-arms on the way.
    const t = setTimeout(() => setTick((n) => n + 1), Math.min(Math.max(0, next - Date.now()) + 50, 2 ** 31 - 1));
    return () => clearTimeout(t);
  }, [next]);
}

/** The conversation list's sign of a muted (or silenced) conversation. */
export function MutedIcon({ conversation: c }: { conversation: Conversation }) {
  const until = mutedUntil(c);
  if (c.notifications?.level === 'none') {
    return <IconBellOff className="muted-icon" role="img" aria-hidden={false} aria-label="Notifications off" width={14} height={14} />;
  }
  if (!until) return null;
  return (
    <IconBellOff className="muted-icon" role="img" aria-hidden={false} aria-label={`Muted until ${untilText(until)}`} width={14} height={14} />
  );
}

/** The bell in a conversation's header and the panel it opens. */
export function NotificationSettingsButton({ conversation: c }: { conversation: Conversation }) {
  const [open, setOpen] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  const panelId = useId();
  const until = mutedUntil(c);
  useRerenderAt([until]);
  const quiet = until !== null || c.notifications?.level === 'none';

  const close = (refocus: boolean) => {
    setOpen(false);
    if (refocus) button.current?.focus();
  };

  return (
    <div className="notify-wrap">
      <button
        ref={button}
        type="button"
        className={`icon-btn ${quiet ? 'is-quiet' : ''}`}
        aria-label="Notification settings"
        title={quiet ? (until ? `Muted until ${untilText(until)}` : 'Notifications off') : 'Notification settings'}
        aria-expanded={open}
        aria-controls={open ? panelId : undefined}
        aria-haspopup="dialog"
        onClick={() => setOpen(!open)}
      >
        {quiet ? <IconBellOff width={20} height={20} /> : <IconBell width={20} height={20} />}
      </button>
      {open && <NotificationPanel id={panelId} conversation={c} onClose={close} anchor={button} />}
    </div>
  );
}

function NotificationPanel({
  id,
  conversation: c,
  onClose,
  anchor,
}: {
  id: string;
  conversation: Conversation;
  onClose: (refocus: boolean) => void;
  anchor: RefObject<HTMLButtonElement | null>;
}) {
  const client = useParley();
  const notify = useNotify();
  const headingId = useId();
  const customId = useId();
  const panel = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState<{ level: NotificationLevel; choice: MuteChoice | null } | null>(null);
  // Which mute option was picked here, for the mute it set (another device's change shows as a time).
  const [picked, setPicked] = useState<{ choice: MuteChoice; forUntil: string | null } | null>(null);
  const [customValue, setCustomValue] = useState('');

  const savedLevel = c.notifications?.level ?? 'all';
  const until = mutedUntil(c);
  const current = c.notifications?.mutedUntil ?? null;
  const savedChoice: MuteChoice = picked && picked.forUntil === (until ? current : null) ? picked.choice : until ? 'custom' : 'off';
  // While a change is on its way, the controls show it.
  const level = saving?.level ?? savedLevel;
  const choice = saving?.choice ?? savedChoice;

  // Focus the panel's first choice on open; Escape or a click elsewhere closes it.
  useEffect(() => {
    panel.current?.querySelector<HTMLInputElement>('input:checked, input')?.focus();
  }, []);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.stopPropagation();
        onClose(true);
      }
    };
    const onDown = (e: PointerEvent) => {
      const t = e.target as Node;
      if (!panel.current?.contains(t) && !anchor.current?.contains(t)) onClose(false);
    };
    window.addEventListener('keydown', onKey, true);
    document.addEventListener('pointerdown', onDown);
    return () => {
      window.removeEventListener('keydown', onKey, true);
      document.removeEventListener('pointerdown', onDown);
    };
  }, [onClose, anchor]);

  const save = async (next: { level: NotificationLevel; mutedUntil: Date | null }, pick?: MuteChoice) => {
    setSaving({ level: next.level, choice: pick ?? null });
    setError(null);
    try {
      const updated = await client.setNotifications(c.id, next);
      if (pick) setPicked({ choice: pick, forUntil: mutedUntil(updated) ? updated.notifications.mutedUntil : null });
    } catch (err) {
      setError(`Could not save: ${errorText(err)}`);
    } finally {
      setSaving(null);
    }
  };

  const pickMute = (m: MuteChoice) => {
    if (m === 'custom') {
      setPicked({ choice: 'custom', forUntil: until ? current : null });
      const start = until ?? new Date(Date.now() + 24 * 3_600_000);
      setCustomValue(localInput(start));
      return;
    }
    void save({ level, mutedUntil: muteEnd(m) }, m);
  };

  const pickCustom = (value: string) => {
    setCustomValue(value);
    if (!value) return;
    const d = new Date(value); // local time
    if (Number.isNaN(d.getTime())) return;
    if (d.getTime() <= Date.now()) {
      setError('Pick a time in the future.');
      return;
    }
    void save({ level, mutedUntil: d }, 'custom');
  };

  const customShown = choice === 'custom';
  const customText = customValue || (until ? localInput(until) : '');

  return (
    <div ref={panel} id={id} className="notify-panel" role="dialog" aria-labelledby={headingId}>
      <div className="notify-panel-head">
        <h3 id={headingId}>Notification settings</h3>
        <button type="button" className="icon-btn" aria-label="Close" title="Close" onClick={() => onClose(true)}>
          <IconClose width={16} height={16} />
        </button>
      </div>

      <fieldset className="notify-group">
        <legend>Notify me about</legend>
        {LEVELS.map((l) => (
          <label key={l.value} className="notify-option">
            <input
              type="radio"
              name={`${id}-level`}
              value={l.value}
              checked={level === l.value}
              onChange={() => void save({ level: l.value, mutedUntil: until })}
            />
            {l.label}
          </label>
        ))}
      </fieldset>

      <fieldset className="notify-group" disabled={level === 'none'}>
        <legend>Mute</legend>
        {MUTES.map((m) => (
          <label key={m.value} className="notify-option">
            <input type="radio" name={`${id}-mute`} value={m.value} checked={choice === m.value} onChange={() => pickMute(m.value)} />
            {m.label}
          </label>
        ))}
        {customShown && (
          <div className="notify-custom">
            <label htmlFor={customId}>Mute until</label>
            <input id={customId} type="datetime-local" value={customText} min={localInput(new Date())} onChange={(e) => pickCustom(e.target.value)} />
          </div>
        )}
        <p className="notify-status small-text" role="status">
          {until ? `Muted until ${untilText(until)}. Only @mentions notify you until then.` : level === 'none' ? '' : 'Not muted.'}
        </p>
      </fieldset>

      <div className="notify-group">
        <label className="notify-option">
          <input
            type="checkbox"
            checked={notify.previews ?? true}
            disabled={notify.previews === null}
            onChange={(e) => {
              setError(null);
              notify.setPreviews(e.target.checked).catch((err: unknown) => setError(`Could not save: ${errorText(err)}`));
            }}
          />
          Show message text in notifications
        </label>
        <p className="small-text muted notify-hint">For all your conversations.</p>
      </div>

      <BrowserPush />

      {saving && <span className="sr-only">Saving…</span>}
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

/** Whether this browser shows notifications when Parley is closed, and a way to turn them on. */
function BrowserPush() {
  const notify = useNotify();
  let text: string;
  if (!notify.pushSupported) text = 'This browser cannot notify you when Parley is closed.';
  else if (notify.permission === 'denied') text = 'Notifications are blocked for Parley in this browser’s settings.';
  else if (notify.push.state === 'failed') text = notify.push.message;
  else if (notify.push.state === 'on') text = 'This browser notifies you when Parley is closed.';
  else if (notify.push.state === 'working') text = 'Turning on notifications…';
  else text = 'This browser does not notify you when Parley is closed.';
  const offer = notify.pushSupported && notify.permission === 'default' && notify.push.state !== 'working';
  return (
    <div className="notify-group notify-browser">
      <p className="small-text" role="status">
        {text}
      </p>
      {offer && (
        <button type="button" className="btn small" onClick={() => void notify.turnOn()}>
          Turn on
        </button>
      )}
    </div>
  );
}

/**
 * The offer to turn notifications on: only once the user has sent a message
 * from this browser, only while the browser has not been asked (or was told
 * "Not now"), and only where Web Push works.
 */
export function NotificationPrompt() {
  const notify = useNotify();
  const [isEngaged, setEngaged] = useState(() => engaged());
  const [phase, setPhase] = useState<'offer' | 'working' | 'failed' | 'done'>(() => (promptDismissed() ? 'done' : 'offer'));
  const [message, setMessage] = useState('');
  // Once shown it stays until answered (the permission may change meanwhile).
  const [shown, setShown] = useState(false);

  useEffect(() => onEngaged(() => setEngaged(true)), []);
  const eligible = notify.pushSupported && notify.permission === 'default' && isEngaged && phase === 'offer';
  useEffect(() => {
    if (eligible) setShown(true);
  }, [eligible]);

  if (phase === 'done' || !(shown || eligible)) return null;

  const turnOn = async () => {
    setPhase('working');
    const r = await notify.turnOn();
    if (r.ok || r.reason === 'denied') setPhase('done');
    else if (r.reason === 'dismissed') {
      dismissPrompt(); // the browser's prompt was closed: as good as "Not now"
      setPhase('done');
    } else {
      setMessage(r.message);
      setPhase('failed');
    }
  };

  return (
    <section className="notify-prompt" aria-label="Notifications">
      {phase === 'failed' ? (
        <p role="alert">{message}</p>
      ) : (
        <p>Get notified of new messages when Parley is closed.</p>
      )}
      <div className="row-buttons">
        {phase !== 'failed' && (
          <button type="button" className="btn primary small" disabled={phase === 'working'} aria-busy={phase === 'working'} onClick={() => void turnOn()}>
            {phase === 'working' ? 'Turning on…' : 'Turn on'}
          </button>
        )}
        <button
          type="button"
          className="btn small"
          onClick={() => {
            dismissPrompt();
            setPhase('done');
          }}
        >
          {phase === 'failed' ? 'Close' : 'Not now'}
        </button>
      </div>
    </section>
  );
}
