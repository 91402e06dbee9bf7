import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ConversationRecord, MessageRecord, NewAttachment, NewMessage, Store, UserRecord } from '../../src/store/store.js';
import { parseQuery } from '../../src/text/search-text.js';
import type { StoreUnderTest } from './store-contract.js';

/**
 * Attachments (contract v1.1) as every Store keeps them: uploads recorded,
 * taken by one message only (the sender's, to the same conversation), carried
 * by the message in order, erased with it, expired when never sent; erased
 * blobs listed until the sweep forgets them.
 */

const T0 = 1_700_000_000_000;

export function runAttachmentContract(name: string, factory: () => Promise<StoreUnderTest>): void {
  describe(`Store contract (attachments): ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await factory());
    });
    afterEach(async () => {
      await cleanup();
    });

    const user = (username: string): Promise<UserRecord> =>
      store.createUser({ username, displayName: username, passwordHash: 'h', createdAt: T0 });

    async function group(members: UserRecord[]): Promise<ConversationRecord> {
      const { conversation } = await store.createConversation({ type: 'group', title: 'g', ownerId: members[0]!.id, memberIds: members.map((m) => m.id), createdAt: T0 });
      return conversation;
    }

    let n = 0;
    const upload = (c: { id: string }, by: UserRecord, extra: Partial<NewAttachment> = {}) => {
      n++;
      return store.createAttachment({
        conversationId: c.id,
        uploaderId: by.id,
        name: `file ${n}.png`,
        mime: 'image/png',
        size: 1000 + n,
        width: 40,
        height: 20,
        blobKey: `blob-000${n}`,
        thumbnailKey: `blob-000${n}-thumb`,
        thumbnailMime: 'image/webp',
        createdAt: T0 + n,
        ...extra,
      });
    };

    const msg = (c: { id: string }, sender: UserRecord, content: string, attachmentIds?: string[], extra: Partial<NewMessage> = {}): NewMessage => ({
      conversationId: c.id,
      senderId: sender.id,
      content,
      clientId: null,
      createdAt: T0 + 1000,
      attachmentIds,
      ...extra,
    });

    async function send(m: NewMessage): Promise<MessageRecord> {
      const [o] = await store.appendMessages([m]);
      if (o?.kind !== 'stored') throw new Error(`not stored: ${JSON.stringify(o)}`);
      return o.message;
    }

    it('records an upload, not sent yet; a message takes uploads in the order named and carries them on every read', async () => {
      const a = await user('a');
      const c = await group([a]);
      const first = await upload(c, a);
      const doc = await upload(c, a, { name: 'notes.pdf', mime: 'application/pdf', width: null, height: null, thumbnailKey: null, thumbnailMime: null });
      expect(first).toMatchObject({ conversationId: c.id, uploaderId: a.id, messageId: null, name: first.name, blobKey: first.blobKey });
      expect(await store.attachmentById(first.id)).toEqual(first);
      expect(await store.attachmentById('a999999')).toBeNull();
      expect(await store.attachmentById('garbage')).toBeNull();
      const m = await send(msg(c, a, '', [doc.id, first.id]));
      expect(m.content).toBe('');
      expect(m.attachments).toEqual([
        { id: doc.id, name: 'notes.pdf', mime: 'application/pdf', size: doc.size, width: null, height: null, thumbnail: false },
        { id: first.id, name: first.name, mime: 'image/png', size: first.size, width: 40, height: 20, thumbnail: true },
      ]);
      expect(await store.attachmentById(first.id)).toEqual({ ...first, messageId: m.id });
      expect(await store.messageById(m.id)).toEqual(m);
      expect((await store.history(c.id, { latest: true, limit: 5 })).messages).toEqual([m]);
      // an edit does not change them
      const [edited] = await store.changeMessages([{ kind: 'edit', messageId: m.id, userId: a.id, content: 'with text', at: T0 + 2000 }]);
      expect(edited).toMatchObject({ kind: 'changed', message: { attachments: m.attachments } });
    });

    it("refuses an upload that is not the sender's unsent upload to this conversation, or named twice, storing nothing; a repeated clientId comes first", async () => {
      const [a, b] = [await user('a'), await user('b')];
      const [c, other] = [await group([a, b]), await group([a, b])];
      const mine = await upload(c, a);
      const theirs = await upload(c, b);
      const elsewhere = await upload(other, a);
      const original = await send(msg(c, a, 'first', [mine.id], { clientId: 'k' }));
      const fresh = await upload(c, a);
      for (const ids of [[theirs.id], [elsewhere.id], [mine.id], [fresh.id, fresh.id], ['a999999'], ['nope'], [fresh.id, 'm1']]) {
        const [o] = await store.appendMessages([msg(c, a, 'x', ids)]);
        expect(o, JSON.stringify(ids)).toEqual({ kind: 'bad_attachments' });
      }
      expect((await store.conversationById(c.id))!.lastSeq).toBe(1);
      expect(await store.attachmentById(fresh.id)).toMatchObject({ messageId: null });
      const [repeat] = await store.appendMessages([msg(c, a, 'again', [mine.id], { clientId: 'k' })]);
      expect(repeat).toEqual({ kind: 'duplicate', message: original });
      // one upload, two items of one batch: the first takes it
      const out = await store.appendMessages([msg(c, a, 'one', [fresh.id]), msg(c, a, 'two', [fresh.id])]);
      expect(out.map((o) => o.kind)).toEqual(['stored', 'bad_attachments']);
    });

    it("a deleted message's attachments are erased: gone from the store, their blobs listed until forgotten", async () => {
      const a = await user('a');
      const c = await group([a]);
      const f1 = await upload(c, a);
      const f2 = await upload(c, a, { thumbnailKey: null, thumbnailMime: null });
      const m = await send(msg(c, a, 'files', [f1.id, f2.id]));
      expect(await store.erasedBlobs(100)).toEqual([]);
      const [deleted] = await store.changeMessages([{ kind: 'delete', messageId: m.id, userId: a.id, at: T0 + 3000 }]);
      expect(deleted).toMatchObject({ kind: 'changed', message: { attachments: [] } });
      expect(await store.attachmentById(f1.id)).toBeNull();
      expect(await store.attachmentById(f2.id)).toBeNull();
      expect((await store.erasedBlobs(100)).sort()).toEqual([f1.blobKey, f1.thumbnailKey!, f2.blobKey].sort());
      expect(await store.erasedBlobs(1)).toHaveLength(1);
      await store.forgetErasedBlobs([f1.blobKey, f1.thumbnailKey!]);
      expect(await store.erasedBlobs(100)).toEqual([f2.blobKey]);
      await store.forgetErasedBlobs([f2.blobKey]);
      expect(await store.erasedBlobs(100)).toEqual([]);
    });

    it('expires uploads no message uses, made before the given time; sent ones stay', async () => {
      const a = await user('a');
      const c = await group([a]);
      const old = await upload(c, a, { createdAt: T0 });
      const sentOld = await upload(c, a, { createdAt: T0 });
      const recent = await upload(c, a, { createdAt: T0 + 50_000 });
      await send(msg(c, a, 'x', [sentOld.id]));
      expect(await store.expireUploads(T0 + 10_000)).toBe(1);
      expect(await store.attachmentById(old.id)).toBeNull();
      expect(await store.attachmentById(sentOld.id)).not.toBeNull();
      expect(await store.attachmentById(recent.id)).not.toBeNull();
      expect((await store.erasedBlobs(100)).sort()).toEqual([old.blobKey, old.thumbnailKey!].sort());
      expect(await store.expireUploads(T0 + 10_000)).toBe(0);
    });
    it("search finds a message by its attachments' names, matched as content is; never across the content's end, nor once deleted; an edit keeps them", async () => {
      const a = await user('a');
      const b = await user('b');
      const c = await group([a]);
      const elsewhere = await group([b]);
      const report = await upload(c, a, { name: 'Quarterly-Résumé 2026.pdf', mime: 'application/pdf', width: null, height: null, thumbnailKey: null, thumbnailMime: null });
      const photo = await upload(c, a, { name: 'beach.jpg' });
      const other = await upload(elsewhere, b, { name: 'quarterly-secret.pdf' });
      const withFiles = await send(msg(c, a, 'see attached', [report.id, photo.id]));
      const plain = await send(msg(c, a, 'quarterly numbers soon'));
      await send({ ...msg(elsewhere, b, '', [other.id]) });
      const found = async (q: string, who: UserRecord = a) =>
        (await store.search({ userId: who.id, terms: parseQuery(q), limit: 100 })).map((h) => h.message.id);

      expect(await found('resume')).toEqual([withFiles.id]); // accents and case folded, inside a name
      expect(await found('beach.jpg')).toEqual([withFiles.id]);
      expect(await found('quarterly')).toEqual([plain.id, withFiles.id]); // newest first; never b's file
      expect(await found('attached quarterly')).toEqual([withFiles.id]); // one term in the content, one in a name
      expect(await found('"attached quarterly"')).toEqual([]); // a phrase does not run from the content into a name
      expect(await found('pdf beach')).toEqual([withFiles.id]); // terms in two names
      expect(await found('qu')).toEqual([plain.id, withFiles.id]); // a short term: the start of a word of a name
      expect(await found('quarterly', b)).toEqual([expect.any(String)]);

      const [edited] = await store.changeMessages([{ kind: 'edit', messageId: withFiles.id, userId: a.id, content: 'new words', at: T0 + 2000 }]);
      expect(edited?.kind).toBe('changed');
      expect(await found('attached')).toEqual([]);
      expect(await found('beach')).toEqual([withFiles.id]);
      expect(await found('words beach')).toEqual([withFiles.id]);

      await store.changeMessages([{ kind: 'delete', messageId: withFiles.id, userId: a.id, at: T0 + 3000 }]);
      expect(await found('beach')).toEqual([]);
      expect(await found('quarterly')).toEqual([plain.id]);
    });
  });
}
