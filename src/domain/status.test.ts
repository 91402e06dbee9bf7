import { describe, expect, it } from 'vitest';
import { StatusOracle, type Markers } from './status.js';

const m = (userId: string, deliveredSeq: number, readSeq: number): Markers => ({ userId, deliveredSeq, readSeq });

describe('StatusOracle', () => {
  it('is sent when the sender is alone', () => {
    const oracle = new StatusOracle([m('alice', 10, 10)]);
    expect(oracle.statusOf(1, 'alice')).toBe('sent');
    expect(oracle.statusOf(10, 'alice')).toBe('sent');
  });

  it('is sent in a conversation with no members at all', () => {
    expect(new StatusOracle([]).statusOf(1, 'alice')).toBe('sent');
  });

  it('is sent until the other member has it, delivered once delivered, read once read', () => {
    const seq = 5;
    expect(new StatusOracle([m('alice', 5, 5), m('bob', 4, 4)]).statusOf(seq, 'alice')).toBe('sent');
    expect(new StatusOracle([m('alice', 5, 5), m('bob', 5, 4)]).statusOf(seq, 'alice')).toBe('delivered');
    expect(new StatusOracle([m('alice', 5, 5), m('bob', 9, 4)]).statusOf(seq, 'alice')).toBe('delivered');
    expect(new StatusOracle([m('alice', 5, 5), m('bob', 5, 5)]).statusOf(seq, 'alice')).toBe('read');
  });

  it('answers per message seq from the same markers', () => {
    const oracle = new StatusOracle([m('alice', 0, 0), m('bob', 7, 3)]);
    expect(oracle.statusOf(3, 'alice')).toBe('read');
    expect(oracle.statusOf(4, 'alice')).toBe('delivered');
    expect(oracle.statusOf(7, 'alice')).toBe('delivered');
    expect(oracle.statusOf(8, 'alice')).toBe('sent');
  });

  it('counts a read marker as delivery even when the delivered marker lags', () => {
    const oracle = new StatusOracle([m('alice', 0, 0), m('bob', 0, 6), m('carol', 6, 0)]);
    expect(oracle.statusOf(6, 'alice')).toBe('delivered');
    const allRead = new StatusOracle([m('alice', 0, 0), m('bob', 0, 6), m('carol', 2, 6)]);
    expect(allRead.statusOf(6, 'alice')).toBe('read');
  });

  it('needs every other member: one laggard holds the status back', () => {
    const members = [m('alice', 0, 0), m('bob', 10, 10), m('carol', 10, 10), m('dave', 10, 2)];
    const oracle = new StatusOracle(members);
    expect(oracle.statusOf(3, 'alice')).toBe('delivered');
    expect(oracle.statusOf(2, 'alice')).toBe('read');
    const withStraggler = new StatusOracle([...members, m('erin', 1, 1)]);
    expect(withStraggler.statusOf(2, 'alice')).toBe('sent');
  });

  it("never lets the sender's own marker matter", () => {
    // the sender is the unique minimum: the runner-up decides
    const behind = new StatusOracle([m('alice', 0, 0), m('bob', 8, 8), m('carol', 9, 9)]);
    expect(behind.statusOf(8, 'alice')).toBe('read');
    expect(behind.statusOf(9, 'alice')).toBe('sent');
    // the sender far ahead does not lift anyone else
    const ahead = new StatusOracle([m('alice', 100, 100), m('bob', 3, 1)]);
    expect(ahead.statusOf(3, 'alice')).toBe('delivered');
    expect(ahead.statusOf(4, 'alice')).toBe('sent');
  });

  it('is the same for every viewer: it depends on the sender, not on who asks', () => {
    const oracle = new StatusOracle([m('alice', 0, 0), m('bob', 5, 5), m('carol', 5, 5)]);
    expect(oracle.statusOf(5, 'alice')).toBe('read');
    // bob sent seq 5: alice (0) has not got it
    expect(oracle.statusOf(5, 'bob')).toBe('sent');
  });

  it('handles ties at the minimum, including the sender among them', () => {
    // alice (sender) ties bob at the minimum: bob's marker still counts
    const tied = new StatusOracle([m('alice', 2, 2), m('bob', 2, 2), m('carol', 9, 9)]);
    expect(tied.statusOf(2, 'alice')).toBe('read');
    expect(tied.statusOf(3, 'alice')).toBe('sent');
    // the sender is not part of the tie
    const othersTied = new StatusOracle([m('alice', 9, 9), m('bob', 2, 2), m('carol', 2, 2)]);
    expect(othersTied.statusOf(2, 'alice')).toBe('read');
    expect(othersTied.statusOf(3, 'alice')).toBe('sent');
    // the minimum is found after a tie was seen
    const later = new StatusOracle([m('bob', 4, 4), m('carol', 4, 4), m('alice', 1, 1), m('dave', 6, 6)]);
    expect(later.statusOf(4, 'alice')).toBe('read');
    expect(later.statusOf(5, 'alice')).toBe('sent');
  });

  it('finds the runner-up wherever it sits in the list', () => {
    for (const order of [
      ['alice', 'bob', 'carol'],
      ['bob', 'alice', 'carol'],
      ['carol', 'bob', 'alice'],
      ['bob', 'carol', 'alice'],
    ]) {
      const seqs: Record<string, number> = { alice: 1, bob: 7, carol: 4 };
      const oracle = new StatusOracle(order.map((id) => m(id, seqs[id]!, seqs[id]!)));
      expect(oracle.statusOf(4, 'alice'), order.join(',')).toBe('read');
      expect(oracle.statusOf(5, 'alice'), order.join(',')).toBe('sent');
    }
  });

  it('counts everyone when the sender is no longer a member', () => {
    const oracle = new StatusOracle([m('bob', 6, 6), m('carol', 6, 3)]);
    expect(oracle.statusOf(3, 'alice')).toBe('read');
    expect(oracle.statusOf(6, 'alice')).toBe('delivered');
    expect(oracle.statusOf(7, 'alice')).toBe('sent');
    // a former sender whose id would have been the minimum is not excluded from anyone
    const one = new StatusOracle([m('bob', 2, 2)]);
    expect(one.statusOf(2, 'alice')).toBe('read');
  });
});
