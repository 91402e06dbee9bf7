/**
 * What the chaos clients sent and what the server acknowledged: the truth the
 * history is checked against afterwards. Acks are checked as they arrive too:
 * an ack must describe the message that was sent, two acks of one clientId
 * must agree, and two clientIds must never be acknowledged with one seq.
 */
import type { Message } from '../../src/protocol/models.js';

export interface SentMessage {
  clientId: string;
  conversationId: string;
  senderId: string;
  content: string;
  /** Times it went on the wire (the first send and every retry). */
  attempts: number;
  /** The first acknowledgement's message; later acks of the same clientId must agree with it. */
  ack?: { id: string; seq: number };
  /** When it last went on the wire (Date.now(); see Ledger.lostAcks). */
  lastSentAt?: number;
  /** Refused with a code that says retrying cannot help (a violation in itself). */
  refused?: string;
}

/** At most this many lines of one kind of violation are kept; the rest are counted. */
const KEPT_PER_KIND = 20;

export class Ledger {
  /** Every message sent, by clientId (unique in a run). */
  readonly sent = new Map<string, SentMessage>();
  /** Distinct messages acknowledged. */
  acked = 0;
  /**
   * Retried messages that the server had stored before the retry went out
   * (createdAt earlier: server and clients share this machine's clock): the
   * ack of an earlier attempt was lost with its connection, and the retry
   * found the message by clientId. The path the kills are for, seen from outside.
   */
  lostAcks = 0;
  private readonly violationsByKind = new Map<string, { lines: string[]; count: number }>();
  /** conversationId → seq → clientId of the ack that gave it. */
  private readonly seqOwners = new Map<string, Map<number, string>>();
  /** Distinct messages acknowledged through each node (by URL). */
  private readonly ackedVia = new Map<string, number>();
  private waiters: { via: string | undefined; target: number; resolve: () => void }[] = [];

  record(msg: Omit<SentMessage, 'attempts'>): SentMessage {
    const entry: SentMessage = { ...msg, attempts: 0 };
    this.sent.set(msg.clientId, entry);
    return entry;
  }

  /** An `ok` ack for `msg`, answered by the node at `via`: checked against what was sent and against earlier acks. */
  acknowledged(msg: SentMessage, m: Message, via: string): void {
    const where = `${msg.conversationId} ${msg.clientId}`;
    if (m.clientId !== msg.clientId || m.conversationId !== msg.conversationId || m.senderId !== msg.senderId || m.content !== msg.content) {
      this.violation('ack-mismatch', `${where}: the ack describes another message: ${JSON.stringify(m)}`);
    }
    if (msg.ack) {
      if (msg.ack.id !== m.id || msg.ack.seq !== m.seq) {
        this.violation('ack-disagrees', `${where}: acked as ${msg.ack.id} seq ${msg.ack.seq}, then again as ${m.id} seq ${m.seq}`);
      }
      return;
    }
    msg.ack = { id: m.id, seq: m.seq };
    this.acked++;
    if (msg.attempts > 1 && Date.parse(m.createdAt) < (msg.lastSentAt ?? 0)) this.lostAcks++;
    this.ackedVia.set(via, this.count(via) + 1);
    let owners = this.seqOwners.get(msg.conversationId);
    if (!owners) this.seqOwners.set(msg.conversationId, (owners = new Map()));
    const owner = owners.get(m.seq);
    if (owner !== undefined) this.violation('seq-acked-twice', `${msg.conversationId} seq ${m.seq}: acknowledged for ${owner} and for ${msg.clientId}`);
    else owners.set(m.seq, msg.clientId);
    this.waiters = this.waiters.filter((w) => (this.count(w.via) >= w.target ? (w.resolve(), false) : true));
  }

  /** Distinct messages acknowledged so far, through the node at `via` if given. */
  count(via?: string): number {
    return via === undefined ? this.acked : (this.ackedVia.get(via) ?? 0);
  }

  /** Resolves once count(via) reaches `target`; rejects after `timeoutMs`. */
  async reach(target: number, timeoutMs: number, via?: string): Promise<void> {
    if (this.count(via) >= target) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.count(via)} of ${target} acknowledgements${via ? ` through ${via}` : ''} after ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = { via, target, resolve: () => (clearTimeout(timer), resolve()) };
      this.waiters.push(waiter);
    });
  }

  violation(kind: string, line: string): void {
    let v = this.violationsByKind.get(kind);
    if (!v) this.violationsByKind.set(kind, (v = { lines: [], count: 0 }));
    v.count++;
    if (v.lines.length < KEPT_PER_KIND) v.lines.push(`[${kind}] ${line}`);
  }

  /** Every violation line kept, with a count of those left out per kind. */
  violations(): string[] {
    const out: string[] = [];
    for (const [kind, v] of this.violationsByKind) {
      out.push(...v.lines);
      if (v.count > v.lines.length) out.push(`[${kind}] ... and ${v.count - v.lines.length} more`);
    }
    return out;
  }
}
