/**
 * The big database of the read scenarios (data.ts, search-mix.ts), seeded
 * through the Store (setup, not measured): 1,001 users; `bench0` in 1,000
 * conversations (999 direct, the first of them the big one, and a group of
 * 50); 1,000 more conversations it is not in; 1,000,000 messages of 5-20
 * Zipf words (text.ts). Every other user is in a direct conversation with
 * bench0 and in two of the others: a small share of the database each.
 */
import path from 'node:path';
import { hashPassword } from '../src/domain/passwords.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { NewMessage } from '../src/store/store.js';
import { sentences } from './text.js';

export const SIZES = {
  full: { users: 1001, userConversations: 1000, otherConversations: 1000, big: 100_000, total: 1_000_000, samples: 300 },
  smoke: { users: 21, userConversations: 20, otherConversations: 10, big: 500, total: 2_000, samples: 10 },
};
export type SeedSize = (typeof SIZES)[keyof typeof SIZES];

/** Every seeded user's password. */
export const SEED_PASSWORD = 'bench-password';

/** Seeds `dataDir/parley.db` (and its search index); returns what it took. */
export async function seed(dataDir: string, size: SeedSize) {
  const sentence = sentences(42);
  const store = new SqliteStore({ file: path.join(dataDir, 'parley.db') });
  const passwordHash = await hashPassword(SEED_PASSWORD, 1024);
  const users = [];
  for (let i = 0; i < size.users; i++) {
    users.push(await store.createUser({ username: `bench${i}`, displayName: `Bench ${i}`, passwordHash, createdAt: Date.now() }));
  }
  const me = users[0]!;
  const conversations: string[] = [];
  const membersOf = new Map<string, string[]>();
  // The user's conversations: a direct one with each other user (the first is the big one), and one group.
  for (let i = 1; i < size.userConversations; i++) {
    const memberIds = [me.id, users[i]!.id];
    const { conversation } = await store.createConversation({ type: 'direct', title: null, ownerId: null, memberIds, createdAt: Date.now() });
    conversations.push(conversation.id);
    membersOf.set(conversation.id, memberIds);
  }
  const groupMembers = users.slice(0, 50).map((u) => u.id);
  const g = await store.createConversation({ type: 'group', title: 'everyone', ownerId: me.id, memberIds: groupMembers, createdAt: Date.now() });
  conversations.push(g.conversation.id);
  membersOf.set(g.conversation.id, groupMembers);
  // Conversations the user is not in: search must never look there, but they weigh on the index.
  const others: string[] = [];
  for (let i = 0; i < size.otherConversations; i++) {
    const a = users[1 + (i % (users.length - 1))]!;
    const b = users[1 + ((i + 1) % (users.length - 1))]!;
    const { conversation } = await store.createConversation({ type: 'group', title: `others ${i}`, ownerId: a.id, memberIds: [a.id, b.id], createdAt: Date.now() });
    others.push(conversation.id);
    membersOf.set(conversation.id, [a.id, b.id]);
  }
  const big = conversations[0]!;
  const all = [...conversations.slice(1), ...others];
  const started = performance.now();
  let batch: NewMessage[] = [];
  const flush = async () => {
    if (batch.length) await store.appendMessages(batch);
    batch = [];
  };
  let t = Date.now() - size.total;
  for (let i = 0; i < size.total; i++) {
    const conversationId = i < size.big ? big : (all[i % all.length] as string);
    const members = membersOf.get(conversationId) as string[];
    const senderId = members[i % members.length] as string;
    batch.push({ conversationId, senderId, content: sentence(), clientId: null, createdAt: t++ });
    if (batch.length === 2000) await flush();
  }
  await flush();
  const seconds = (performance.now() - started) / 1000;
  const stored = (await store.history(big, { latest: true, limit: 1 })).messages[0]?.seq ?? 0;
  // Closing lets the search worker index everything first: how far behind it was.
  const lag = store.indexLag();
  const closing = performance.now();
  await store.close();
  const indexCatchUp = (performance.now() - closing) / 1000;
  return { big, seconds, bigSeq: stored, lag, indexCatchUp, indexedPerSec: Math.round(size.total / (seconds + indexCatchUp)) };
}
