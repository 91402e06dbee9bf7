import type { NotifyLevel } from '../store/store.js';

/**
 * Who hears of a message (contract v1.1, notification preferences), for
 * every channel (webhook, Web Push): `none` hears nothing; otherwise a
 * mention always notifies, and anything else only at `all` and not muted.
 * So a mute silences all but mentions, and `mentions` hears only those.
 */
export function wantsNotification(prefs: { notifyLevel: NotifyLevel; mutedUntil: number | null }, mentioned: boolean, at: number): boolean {
  if (prefs.notifyLevel === 'none') return false;
  if (mentioned) return true;
  return prefs.notifyLevel === 'all' && (prefs.mutedUntil === null || prefs.mutedUntil <= at);
}

const INSTANT = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})$/;

/**
 * An ISO-8601 (RFC 3339) time that says where it is (`Z` or an offset), as
 * ms since the epoch; undefined for anything else, an impossible date
 * (February 30th) or time included.
 */
export function parseInstant(text: string): number | undefined {
  const m = INSTANT.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  if (new Date(Date.UTC(year, month - 1, day)).getUTCDate() !== day) return undefined;
  const zone = m[8]!;
  if (zone.length > 1) {
    const digits = zone.replace(':', '');
    if (Number(digits.slice(1, 3)) > 23 || Number(digits.slice(3)) > 59) return undefined;
  }
  const ms = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6] ?? '00'}${m[7] ?? ''}${zone.length > 1 && !zone.includes(':') ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone.toUpperCase()}`);
  return Number.isFinite(ms) ? ms : undefined;
}
