import { describe, expect, it } from 'vitest';
import { SyncCursors } from './sync-cursors.js';

describe('SyncCursors', () => {
  it('advances over live revs in order', () => {
    const c = new SyncCursors();
    c.startAt('c1', 0);
    for (const rev of [1, 2, 3]) c.saw('c1', rev);
    expect(c.syncFrom('c1')).toBe(3);
  });

  it('stops below a hole: an edit announced after later sends (issue #16)', () => {
    const c = new SyncCursors();
    c.startAt('c1', 1);
    c.saw('c1', 3); // message:new, while the edit at rev 2 waits for the search index
    c.saw('c1', 4);
    expect(c.syncFrom('c1')).toBe(1);
    c.saw('c1', 2); // the edit's message:updated, late
    expect(c.syncFrom('c1')).toBe(4);
  });

  it('ignores revs at or below the cursor, and repeats', () => {
    const c = new SyncCursors();
    c.startAt('c1', 5);
    c.saw('c1', 3);
    c.saw('c1', 5);
    c.saw('c1', 7);
    c.saw('c1', 7);
    expect(c.syncFrom('c1')).toBe(5);
    c.saw('c1', 6);
    expect(c.syncFrom('c1')).toBe(7);
  });

  it('a sync answer moves the cursor to the highest rev it returned, then through what was seen above', () => {
    const c = new SyncCursors();
    c.startAt('c1', 2);
    c.saw('c1', 9);
    c.saw('c1', 11);
    c.synced('c1', 2, 8); // a page: every change in 3..8
    expect(c.syncFrom('c1')).toBe(9);
    c.synced('c1', 9); // nothing returned: no hole filled
    expect(c.syncFrom('c1')).toBe(9);
    c.synced('c1', 9, 10);
    expect(c.syncFrom('c1')).toBe(11);
  });

  it('a sync answer never moves a cursor back (live revs advanced it while the answer was on its way)', () => {
    const c = new SyncCursors();
    c.startAt('c1', 4);
    c.saw('c1', 5);
    c.saw('c1', 6);
    c.synced('c1', 4, 5);
    expect(c.syncFrom('c1')).toBe(6);
  });

  it('a snapshot sets the cursor only when there is none, and covers what was seen below it', () => {
    const c = new SyncCursors();
    c.saw('c1', 12);
    c.saw('c1', 10);
    c.startAt('c1', 10);
    expect(c.syncFrom('c1')).toBe(10);
    c.saw('c1', 11);
    expect(c.syncFrom('c1')).toBe(12);
    c.startAt('c1', 40); // a later snapshot: the cursor stays where what was applied puts it
    expect(c.syncFrom('c1')).toBe(12);
  });

  it('with live revs and no base yet, syncs from just below the lowest seen; the answer sets the base', () => {
    const c = new SyncCursors();
    expect(c.syncFrom('c1')).toBeUndefined();
    expect(c.has('c1')).toBe(false);
    c.saw('c1', 8);
    c.saw('c1', 6);
    expect(c.has('c1')).toBe(true);
    expect(c.syncFrom('c1')).toBe(5);
    c.synced('c1', 5);
    expect(c.syncFrom('c1')).toBe(6);
    c.saw('c1', 7);
    expect(c.syncFrom('c1')).toBe(8);
  });

  it('keeps conversations apart, and forgets a dropped one', () => {
    const c = new SyncCursors();
    c.startAt('c1', 1);
    c.startAt('c2', 1);
    c.saw('c1', 2);
    c.saw('c2', 3);
    expect([c.syncFrom('c1'), c.syncFrom('c2')]).toEqual([2, 1]);
    c.drop('c1');
    expect(c.syncFrom('c1')).toBeUndefined();
    c.startAt('c1', 20);
    expect(c.syncFrom('c1')).toBe(20);
  });

  it('whatever order live revs arrive in, the cursor is the end of the run without a hole', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 48271) % 0x7fffffff) / 0x7fffffff);
    for (let round = 0; round < 50; round++) {
      const revs = Array.from({ length: 30 }, (_, i) => i + 1).sort(() => random() - 0.5);
      const lost = 1 + Math.floor(random() * 30); // a change missed while disconnected
      const c = new SyncCursors();
      c.startAt('c1', 0);
      const applied = new Set<number>();
      for (const rev of revs) {
        if (rev === lost) continue;
        c.saw('c1', rev);
        applied.add(rev);
        let run = 0;
        while (applied.has(run + 1)) run++;
        expect(c.syncFrom('c1')).toBe(run);
      }
      expect(c.syncFrom('c1')).toBe(lost - 1); // a sync from here brings the lost change
    }
  });
});
