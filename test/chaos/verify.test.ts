/**
 * The chaos check must fail when the history breaks a rule: each kind of
 * damage, made by hand, is reported (test/chaos/verify.ts).
 */
import { describe, expect, it } from 'vitest';
import type { Message } from '../../src/protocol/models.js';
import { Ledger } from './ledger.js';
import { checkHistory } from './verify.js';

const C = 'c1';

/** Three messages sent to c1 by u1 and acknowledged at seqs 1..3; `history` is what the server stored. */
function scenario(): { ledger: Ledger; history: Message[] } {
  const ledger = new Ledger();
  const history: Message[] = [];
  for (let seq = 1; seq <= 3; seq++) {
    const sent = ledger.record({ clientId: `k${seq}`, conversationId: C, senderId: 'u1', content: `text ${seq}` });
    const m = message(seq, `k${seq}`);
    ledger.acknowledged(sent, m, 'node');
    history.push(m);
  }
  return { ledger, history };
}

function message(seq: number, clientId: string | null, over: Partial<Message> = {}): Message {
  const at = '2026-01-01T00:00:00.000Z';
  return { id: `m${seq}`, conversationId: C, seq, rev: seq, senderId: 'u1', content: `text ${seq}`, clientId, createdAt: at, editedAt: null, deletedAt: null, status: 'sent', replyTo: null, reactions: [], mentions: [], attachments: [], ...over };
}

const kinds = (ledger: Ledger) => ledger.violations().map((v) => /^\[([^\]]+)\]/.exec(v)?.[1]);

describe('the chaos history check', () => {
  it('passes a history that is what the acks said', () => {
    const { ledger, history } = scenario();
    checkHistory(C, history, ledger);
    expect(ledger.violations()).toEqual([]);
  });

  it('reports a lost acknowledged message, and the gap it leaves', () => {
    const { ledger, history } = scenario();
    checkHistory(C, [history[0]!, history[2]!], ledger);
    expect(kinds(ledger)).toEqual(['seq-not-1..N', 'lost']);
  });

  it('reports a message stored twice', () => {
    const { ledger, history } = scenario();
    checkHistory(C, [...history, message(4, 'k2', { content: 'text 2' })], ledger);
    expect(kinds(ledger)).toEqual(['duplicate', 'moved']);
  });

  it('reports a message stored at another seq or id than its ack gave', () => {
    const { ledger, history } = scenario();
    checkHistory(C, [history[0]!, { ...history[2]!, seq: 2 }, { ...history[1]!, seq: 3 }], ledger);
    expect(kinds(ledger)).toEqual(['moved', 'moved']);
  });

  it('reports a message nobody sent, and one stored with other content', () => {
    const { ledger, history } = scenario();
    checkHistory(C, [history[0]!, { ...history[1]!, content: 'changed' }, history[2]!, message(4, 'nobody'), message(5, null)], ledger);
    expect(kinds(ledger)).toEqual(['altered', 'phantom', 'phantom']);
  });

  it('reports two messages acknowledged with one seq, and acks of one clientId that disagree', () => {
    const ledger = new Ledger();
    const a = ledger.record({ clientId: 'a', conversationId: C, senderId: 'u1', content: 'text 1' });
    const b = ledger.record({ clientId: 'b', conversationId: C, senderId: 'u1', content: 'text 1' });
    ledger.acknowledged(a, message(1, 'a'), 'node');
    ledger.acknowledged(b, message(1, 'b'), 'node');
    ledger.acknowledged(a, message(2, 'a', { content: 'text 1' }), 'node');
    expect(kinds(ledger)).toEqual(['seq-acked-twice', 'ack-disagrees']);
  });
});
