import { describe, expect, it } from 'vitest';
import { parseInstant, wantsNotification } from './notification-rules.js';

describe('wantsNotification', () => {
  const at = 1_000_000;
  const p = (notifyLevel: 'all' | 'mentions' | 'none', mutedUntil: number | null = null) => ({ notifyLevel, mutedUntil });
  it('all: everything unless muted; a mute lets mentions through and ends at its time', () => {
    expect(wantsNotification(p('all'), false, at)).toBe(true);
    expect(wantsNotification(p('all', at + 1), false, at)).toBe(false);
    expect(wantsNotification(p('all', at + 1), true, at)).toBe(true);
    expect(wantsNotification(p('all', at), false, at)).toBe(true);
    expect(wantsNotification(p('all', at - 1), false, at)).toBe(true);
  });
  it('mentions: only mentions, muted or not; none: nothing', () => {
    expect(wantsNotification(p('mentions'), false, at)).toBe(false);
    expect(wantsNotification(p('mentions'), true, at)).toBe(true);
    expect(wantsNotification(p('mentions', at + 1), true, at)).toBe(true);
    expect(wantsNotification(p('none'), true, at)).toBe(false);
    expect(wantsNotification(p('none'), false, at)).toBe(false);
  });
});

describe('parseInstant', () => {
  it('reads RFC 3339 times with Z or an offset', () => {
    expect(parseInstant('2026-12-06T10:00:00Z')).toBe(Date.UTC(2026, 11, 6, 10));
    expect(parseInstant('2026-12-06T10:00:00.250Z')).toBe(Date.UTC(2026, 11, 6, 10, 0, 0, 250));
    expect(parseInstant('2026-12-06T12:00:00+02:00')).toBe(Date.UTC(2026, 11, 6, 10));
    expect(parseInstant('2026-12-06T05:30:00-0430')).toBe(Date.UTC(2026, 11, 6, 10));
    expect(parseInstant('2026-12-06t10:00z')).toBe(Date.UTC(2026, 11, 6, 10));
  });
  it('refuses times without a zone, impossible dates and anything else', () => {
    for (const bad of ['2026-12-06T10:00:00', '2026-12-06', '2026-02-30T00:00:00Z', '2026-13-01T00:00:00Z', '2026-12-06T24:00:00Z', '2026-12-06T10:60:00Z', 'tomorrow', '', '2026-12-06T10:00:00+25:00', ' 2026-12-06T10:00:00Z']) {
      expect(parseInstant(bad), bad).toBeUndefined();
    }
  });
});
