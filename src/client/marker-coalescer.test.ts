import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MarkerCoalescer, markerInterval, type MarkerType } from './marker-coalescer.js';

/** A coalescer whose sends the test answers by hand, on a fake clock. */
function harness(intervalMs = 500) {
  const calls: { type: MarkerType; conversationId: string; seq: number; ok: () => void; fail: (e: object) => void }[] = [];
  let connected = true;
  const c = new MarkerCoalescer({
    intervalMs: () => intervalMs,
    canSend: () => connected,
    send: (type, conversationId, seq) =>
      new Promise<void>((resolve, reject) => calls.push({ type, conversationId, seq, ok: resolve, fail: reject })),
  });
  const sent = () => calls.map((x) => `${x.type}:${x.conversationId}:${x.seq}`);
  const answerAll = async () => {
    for (const x of calls.filter((x) => !('answered' in x))) {
      Object.assign(x, { answered: true });
      x.ok();
    }
    await vi.advanceTimersByTimeAsync(0);
  };
  return {
    c,
    calls,
    sent,
    answerAll,
    setConnected: (v: boolean) => {
      connected = v;
    },
  };
}

const retryable = (retryAfter?: number) => ({ code: 'rate_limited', retryable: true, data: retryAfter === undefined ? undefined : { retryAfter } });

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('MarkerCoalescer', () => {
  it('sends the first move on the next turn, then at most one per interval, always the highest seq', async () => {
    const h = harness(500);
    for (let seq = 1; seq <= 3; seq++) h.c.delivered('c1', seq); // one burst: one move
    expect(h.sent()).toEqual([]);
    await vi.advanceTimersByTimeAsync(0);
    expect(h.sent()).toEqual(['delivered:c1:3']);
    await h.answerAll();
    for (let seq = 4; seq <= 40; seq++) {
      h.c.delivered('c1', seq);
      await vi.advanceTimersByTimeAsync(10);
    }
    // 370 ms later: still within the interval of the first move.
    expect(h.sent()).toEqual(['delivered:c1:3']);
    await vi.advanceTimersByTimeAsync(130);
    expect(h.sent()).toEqual(['delivered:c1:3', 'delivered:c1:40']);
    await h.answerAll();
    expect(h.c.pending('c1')).toBeNull();
    expect(h.c.sent).toEqual({ delivered: 2, read: 0 });
  });

  it('a read at or past the delivered seq stands for both; a delivered ahead of the read goes too', async () => {
    const h = harness(500);
    h.c.delivered('c1', 5);
    h.c.read('c1', 5);
    await vi.advanceTimersByTimeAsync(0);
    expect(h.sent()).toEqual(['read:c1:5']);
    await h.answerAll();
    h.c.delivered('c1', 9);
    h.c.read('c1', 7);
    await vi.advanceTimersByTimeAsync(500);
    expect(h.sent()).toEqual(['read:c1:5', 'delivered:c1:9', 'read:c1:7']);
    await h.answerAll();
    h.c.delivered('c1', 8); // below what the server has: nothing to send
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.calls).toHaveLength(3);
  });

  it('keeps one move of a kind in flight: the next waits for the answer, then for the rest of its interval', async () => {
    const h = harness(100);
    h.c.delivered('c1', 1);
    await vi.advanceTimersByTimeAsync(0);
    h.c.delivered('c1', 2);
    await vi.advanceTimersByTimeAsync(1000); // no answer yet
    expect(h.sent()).toEqual(['delivered:c1:1']);
    await h.answerAll();
    expect(h.sent()).toEqual(['delivered:c1:1', 'delivered:c1:2']);
  });

  it('conversations have lanes of their own', async () => {
    const h = harness(500);
    h.c.delivered('c1', 1);
    h.c.delivered('c2', 4);
    await vi.advanceTimersByTimeAsync(0);
    expect(h.sent().sort()).toEqual(['delivered:c1:1', 'delivered:c2:4']);
  });

  it('a move that fails and may be retried is sent again after retryAfter, at the highest seq by then', async () => {
    const h = harness(100);
    h.c.read('c1', 3);
    const read = h.c.whenRead('c1', 3);
    await vi.advanceTimersByTimeAsync(0);
    h.calls[0]!.fail(retryable(2000));
    await vi.advanceTimersByTimeAsync(0);
    h.c.read('c1', 4);
    await vi.advanceTimersByTimeAsync(1999);
    expect(h.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(h.sent()).toEqual(['read:c1:3', 'read:c1:4']);
    let answered = false;
    void read.then(() => (answered = true));
    await h.answerAll();
    expect(answered).toBe(true);
  });

  it('a move refused for good is dropped, and its read answered', async () => {
    const h = harness(100);
    h.c.read('c1', 3);
    const read = h.c.whenRead('c1', 3);
    await vi.advanceTimersByTimeAsync(0);
    h.calls[0]!.fail({ code: 'forbidden', retryable: false });
    await read;
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.calls).toHaveLength(1);
    expect(h.c.pending('c1')).toBeNull();
  });

  it('while disconnected nothing is sent; on resume the pending read goes, once', async () => {
    const h = harness(500);
    h.setConnected(false);
    h.c.read('c1', 7);
    const read = h.c.whenRead('c1', 7);
    h.c.delivered('c1', 8);
    await vi.advanceTimersByTimeAsync(5000);
    expect(h.calls).toHaveLength(0);
    h.setConnected(true);
    h.c.resume();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.sent()).toEqual(['delivered:c1:8', 'read:c1:7']);
    await h.answerAll();
    await read;
  });

  it('a move in flight when the connection drops is sent again after it is back', async () => {
    const h = harness(500);
    h.c.read('c1', 2);
    await vi.advanceTimersByTimeAsync(0);
    h.setConnected(false);
    h.calls[0]!.fail({ code: 'timeout', retryable: true }); // what socket.io-client answers a pending ack on disconnect
    await vi.advanceTimersByTimeAsync(5000);
    expect(h.calls).toHaveLength(1);
    h.setConnected(true);
    h.c.resume();
    await vi.advanceTimersByTimeAsync(500);
    expect(h.sent()).toEqual(['read:c1:2', 'read:c1:2']);
  });

  it('flush sends what waits for its interval now; stop answers waiting reads and sends nothing more', async () => {
    const h = harness(60_000);
    h.c.delivered('c1', 1);
    await vi.advanceTimersByTimeAsync(0);
    await h.answerAll();
    h.c.delivered('c1', 2);
    h.c.read('c1', 2);
    h.c.delivered('c2', 5);
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.sent()).toEqual(['delivered:c1:1', 'delivered:c2:5']);
    h.c.flush('c1');
    expect(h.sent()).toEqual(['delivered:c1:1', 'delivered:c2:5', 'read:c1:2']);
    h.c.read('c1', 3);
    const waiting = h.c.whenRead('c1', 3);
    h.c.stop();
    await waiting;
    h.c.delivered('c1', 9);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(h.calls).toHaveLength(3);
  });

  it('takes 500 ms in small conversations, 10 ms a member in groups of more than 50', () => {
    expect([2, 50, 51, 100, 1000].map((m) => markerInterval(m))).toEqual([500, 500, 510, 1000, 10_000]);
    expect(markerInterval(100, 2000)).toBe(2000);
  });
});
