/**
 * After the chaos: every conversation's whole history, read back through
 * REST (`GET /api/conversations/:id/messages`, pages of 100), against the
 * ledger. What must hold:
 * - seqs are exactly 1..N: no gap, no duplicate;
 * - every acknowledged message is there once, with the id and seq its ack gave;
 * - every stored message is one a client sent, to that conversation, from
 *   that sender, with that content (no phantom), and its clientId appears once;
 * - on a cluster, every node serves the same history.
 */
import type { HistoryResponse } from '../../src/protocol/http.js';
import type { Message } from '../../src/protocol/models.js';
import type { Ledger } from './ledger.js';

export interface Readable {
  id: string;
  /** The token of a member, to read it with. */
  token: string;
}

/** A conversation's whole history through REST, oldest first. */
export async function readHistory(base: string, token: string, conversationId: string): Promise<Message[]> {
  const out: Message[] = [];
  for (let after = 0; ; ) {
    const res = await fetch(`${base}/api/conversations/${conversationId}/messages?after=${after}&limit=100`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(30_000),
    });
    if (res.status !== 200) throw new Error(`history of ${conversationId} from ${base}: ${res.status} ${await res.text()}`);
    const page = (await res.json()) as HistoryResponse;
    out.push(...page.messages);
    const last = page.messages.at(-1);
    if (!page.hasMore || !last) return out;
    after = last.seq;
  }
}

/** Checks every conversation against the ledger (violations go to it); returns how many messages each holds. */
export async function verifyHistories(urls: readonly string[], conversations: readonly Readable[], ledger: Ledger): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const c of conversations) {
    const [first, ...others] = await Promise.all(urls.map((u) => readHistory(u, c.token, c.id)));
    const history = first as Message[];
    counts[c.id] = history.length;
    checkHistory(c.id, history, ledger);
    for (const [i, other] of others.entries()) {
      const a = history.map((m) => `${m.seq}:${m.id}`).join(',');
      const b = other.map((m) => `${m.seq}:${m.id}`).join(',');
      if (a !== b) ledger.violation('nodes-disagree', `${c.id}: ${urls[0]} has ${history.length} messages, ${urls[i + 1]} ${other.length}, not the same`);
    }
  }
  // Every message sent to a conversation that was not read above would be missed silently.
  const read = new Set(conversations.map((c) => c.id));
  for (const msg of ledger.sent.values()) {
    if (!read.has(msg.conversationId)) throw new Error(`conversation ${msg.conversationId} was sent to but not read back`);
  }
  return counts;
}

/** One conversation's history (oldest first) against the ledger; violations go to it. */
export function checkHistory(conversationId: string, history: readonly Message[], ledger: Ledger): void {
  const seen = new Map<string, Message>();
  for (const [i, m] of history.entries()) {
    if (m.seq !== i + 1) ledger.violation('seq-not-1..N', `${conversationId}: position ${i + 1} holds seq ${m.seq} (${m.id}, ${m.clientId})`);
    if (m.clientId === null) {
      ledger.violation('phantom', `${conversationId} seq ${m.seq}: ${m.id} has no clientId (no chaos client sent it)`);
      continue;
    }
    const twin = seen.get(m.clientId);
    if (twin) ledger.violation('duplicate', `${conversationId}: clientId ${m.clientId} stored twice, seq ${twin.seq} (${twin.id}) and seq ${m.seq} (${m.id})`);
    seen.set(m.clientId, m);
    const sent = ledger.sent.get(m.clientId);
    if (!sent || sent.conversationId !== conversationId) {
      ledger.violation('phantom', `${conversationId} seq ${m.seq}: ${m.id} with clientId ${m.clientId} was never sent here`);
      continue;
    }
    if (sent.senderId !== m.senderId || sent.content !== m.content) {
      ledger.violation('altered', `${conversationId} seq ${m.seq}: ${m.clientId} stored as ${JSON.stringify({ senderId: m.senderId, content: m.content })}, sent as ${JSON.stringify({ senderId: sent.senderId, content: sent.content })}`);
    }
    if (sent.ack && (sent.ack.id !== m.id || sent.ack.seq !== m.seq)) {
      ledger.violation('moved', `${conversationId}: ${m.clientId} acknowledged as ${sent.ack.id} seq ${sent.ack.seq}, stored as ${m.id} seq ${m.seq}`);
    }
    if (!sent.ack) ledger.violation('stored-unacked', `${conversationId} seq ${m.seq}: ${m.clientId} is stored but no ack ever came for it`);
  }
  for (const msg of ledger.sent.values()) {
    if (msg.conversationId === conversationId && msg.ack && !seen.has(msg.clientId)) {
      ledger.violation('lost', `${conversationId}: ${msg.clientId} acknowledged as ${msg.ack.id} seq ${msg.ack.seq} (after ${msg.attempts} attempt(s)) is not in the history`);
    }
  }
}
