/**
 * Rich messages in the web client (issue #18), in a real browser: replies,
 * reactions, mentions and attachments between two people, live and after a
 * reload; the keyboard path to Reply and the reaction picker; cancelling an
 * upload; and an axe-core WCAG 2.1 AA audit of every new surface.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Locator, Page, Route } from 'playwright-core';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { connect, direct, http, register, type Account } from '../helpers/client.js';
import { SHOTS, audit, useBrowser } from '../helpers/browser.js';

const env = useBrowser();
const { run } = env;
const T = { timeout: 10_000 };

/** A page signed in through the form as an account made over the API. */
async function signedIn(account: Account, opts: { bypassCSP?: boolean } = {}): Promise<Page> {
  const context = await env.browser.newContext({ viewport: { width: 1280, height: 800 }, bypassCSP: opts.bypassCSP ?? false });
  const page = await context.newPage();
  page.on('dialog', (d) => void d.accept());
  await page.goto(env.server.url + '/messages');
  await page.getByLabel('Username').fill(account.username);
  await page.getByLabel('Password').fill(account.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect.poll(() => page.getByRole('button', { name: 'New chat' }).isVisible(), T).toBe(true);
  return page;
}

async function openChat(page: Page, other: Account): Promise<void> {
  await page.getByRole('button', { name: new RegExp(other.username) }).first().click(T);
  await expect.poll(() => log(page).isVisible(), T).toBe(true);
}

const log = (page: Page) => page.getByRole('log', { name: 'Messages' });
const composer = (page: Page) => page.getByRole('combobox', { name: 'Message', exact: true });
/** The message whose own text (not a quote of it) holds `text`. */
const msg = (page: Page, text: string) => log(page).locator('.msg').filter({ has: page.locator('.text', { hasText: text }) });

/** A PNG made here: 800×600, so its thumbnail is 320×240. */
async function photo(name = 'photo.png'): Promise<string> {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'parley-rich-')), name);
  fs.writeFileSync(file, await sharp({ create: { width: 800, height: 600, channels: 3, background: '#3a6' } }).png().toBuffer());
  return file;
}

async function loaded(img: Locator): Promise<number> {
  return img.evaluate((el) => ((el as HTMLImageElement).complete ? (el as HTMLImageElement).naturalWidth : 0));
}

async function upload(account: Account, conversationId: string, name: string, bytes: Buffer): Promise<{ id: string }> {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(bytes)]), name);
  const res = await fetch(`${env.server.url}/api/conversations/${conversationId}/attachments`, {
    method: 'POST',
    headers: { authorization: `Bearer ${account.token}` },
    body: form,
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string };
}


describe.runIf(run)('rich messages in the web client', () => {
  it('two people: a reply from the menu, a reaction from the picker, a mention from the autocomplete and an image, live and after a reload', async () => {
    const alice = await register(env.server.url, 'ra');
    const bob = await register(env.server.url, 'rb');
    await direct(env.server.url, alice, bob);
    const a = await signedIn(alice);
    const b = await signedIn(bob);
    await openChat(a, bob);
    await openChat(b, alice);

    // B writes; A replies from the message's menu.
    await composer(b).fill('Lunch at noon?');
    await composer(b).press('Enter');
    await expect.poll(() => msg(a, 'Lunch at noon?').count(), T).toBe(1);
    await msg(a, 'Lunch at noon?').hover();
    await msg(a, 'Lunch at noon?').getByRole('button', { name: 'Reply', exact: true }).click();
    const replyBar = a.locator('.reply-bar');
    await expect.poll(() => replyBar.innerText(), T).toContain(`Replying to ${bob.user.displayName}`);
    expect(await replyBar.innerText()).toContain('Lunch at noon?');
    // the focus is in the composer: just type
    await a.keyboard.type('Yes, at the usual place');
    await a.keyboard.press('Enter');
    await expect.poll(() => replyBar.count(), T).toBe(0);

    // B reacts to the reply with 🎉 from the picker.
    await expect.poll(() => msg(b, 'Yes, at the usual place').count(), T).toBe(1);
    await msg(b, 'Yes, at the usual place').hover();
    await msg(b, 'Yes, at the usual place').getByRole('button', { name: 'Add reaction' }).click();
    const picker = b.getByRole('menu', { name: 'Add reaction' });
    await expect.poll(() => picker.isVisible(), T).toBe(true);
    await picker.getByRole('menuitem', { name: 'Party popper' }).click();
    await expect.poll(() => picker.count(), T).toBe(0);

    // A mentions B through the autocomplete.
    await composer(a).click();
    await composer(a).pressSequentially(`Thanks @${bob.username.slice(0, 4)}`);
    const list = a.getByRole('listbox', { name: 'People to mention' });
    await expect.poll(() => list.isVisible(), T).toBe(true);
    expect(await composer(a).getAttribute('aria-expanded')).toBe('true');
    const option = list.getByRole('option', { name: new RegExp(bob.username) });
    expect(await option.getAttribute('aria-selected')).toBe('true');
    expect(await composer(a).getAttribute('aria-activedescendant')).toBe(await option.getAttribute('id'));
    await composer(a).press('Enter');
    await expect.poll(() => composer(a).inputValue(), T).toBe(`Thanks @${bob.username} `);
    expect(await composer(a).getAttribute('aria-expanded')).toBe('false');
    await composer(a).pressSequentially('for lunch');
    await composer(a).press('Enter');

    // A sends an image through the attach button's file chooser.
    const file = await photo();
    const [chooser] = await Promise.all([a.waitForEvent('filechooser'), a.getByRole('button', { name: 'Attach files' }).click()]);
    await chooser.setFiles(file);
    await expect.poll(() => a.locator('.upload[data-upload-state="done"]').count(), T).toBe(1);
    await a.getByRole('button', { name: 'Send' }).click();
    await expect.poll(() => a.locator('.upload').count(), T).toBe(0);

    /** What each side must see, live and after a reload. */
    async function sees(page: Page, me: 'alice' | 'bob') {
      const reply = msg(page, 'Yes, at the usual place');
      await expect.poll(() => reply.locator('.quote').innerText(), T).toContain('Lunch at noon?');
      expect(await reply.locator('.quote').innerText()).toContain(me === 'bob' ? 'You' : bob.user.displayName);
      const chip = reply.locator('.reaction[data-emoji="🎉"]');
      await expect.poll(() => chip.innerText(), T).toContain('1');
      expect(await chip.getAttribute('aria-pressed')).toBe(me === 'bob' ? 'true' : 'false');
      expect(await chip.getAttribute('aria-label')).toContain(me === 'bob' ? 'You' : bob.username);
      expect(await chip.getAttribute('title')).toContain(me === 'bob' ? 'You reacted' : `${bob.username} reacted`);

      const mention = msg(page, 'Thanks').locator('.mention');
      await expect.poll(() => mention.innerText(), T).toBe(`@${bob.username}`);
      expect(await mention.evaluate((el) => el.classList.contains('mention-me'))).toBe(me === 'bob');

      const img = log(page).locator('img[alt="photo.png"]');
      await expect.poll(() => loaded(img), T).toBeGreaterThan(0);
      expect(await img.getAttribute('width')).toBe('320');
      expect(await img.getAttribute('height')).toBe('240');
      // it opens the viewer, at full size, with a download link; Escape closes it
      await img.click();
      const viewer = page.getByRole('dialog', { name: 'photo.png' });
      await expect.poll(() => viewer.isVisible(), T).toBe(true);
      expect(await viewer.getAttribute('aria-modal')).toBe('true');
      await expect.poll(() => loaded(viewer.locator('img')), T).toBe(800);
      expect(await viewer.getByRole('link', { name: 'Download' }).getAttribute('download')).toBe('photo.png');
      await page.keyboard.press('Escape');
      await expect.poll(() => viewer.count(), T).toBe(0);

      // the quote shows its target
      await reply.locator('.quote').click();
      await expect.poll(() => msg(page, 'Lunch at noon?').evaluate((el) => el.classList.contains('flash')), T).toBe(true);
    }

    await sees(a, 'alice');
    await sees(b, 'bob');
    await b.screenshot({ path: path.join(SHOTS, 'rich-live.png') });

    // The quote follows its target's edit.
    await msg(b, 'Lunch at noon?').hover();
    await msg(b, 'Lunch at noon?').getByRole('button', { name: 'Edit', exact: true }).click();
    await b.getByRole('textbox', { name: 'Edit message' }).fill('Lunch at one?');
    await b.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => msg(a, 'Yes, at the usual place').locator('.quote').innerText(), T).toContain('Lunch at one?');

    for (const page of [a, b]) await page.reload();
    await openChat(a, bob);
    await openChat(b, alice);
    await expect.poll(() => msg(a, 'Lunch at one?').count(), T).toBe(1);
    await expect.poll(() => msg(b, 'Lunch at one?').count(), T).toBe(1);
    // (the quote now reads the edited text)
    expect(await msg(a, 'Yes, at the usual place').locator('.quote').innerText()).toContain('Lunch at one?');
    const seesAfterReload = async (page: Page, me: 'alice' | 'bob') => {
      const reply = msg(page, 'Yes, at the usual place');
      await expect.poll(() => reply.locator('.reaction[data-emoji="🎉"]').getAttribute('aria-pressed'), T).toBe(me === 'bob' ? 'true' : 'false');
      const mention = msg(page, 'Thanks').locator('.mention');
      await expect.poll(() => mention.evaluate((el) => el.classList.contains('mention-me')), T).toBe(me === 'bob');
      const img = log(page).locator('img[alt="photo.png"]');
      await expect.poll(() => loaded(img), T).toBeGreaterThan(0);
      await img.click();
      const viewer = page.getByRole('dialog', { name: 'photo.png' });
      await expect.poll(() => loaded(viewer.locator('img')), T).toBe(800);
      await viewer.getByRole('button', { name: 'Close' }).click();
      await expect.poll(() => viewer.count(), T).toBe(0);
    };
    await seesAfterReload(a, 'alice');
    await seesAfterReload(b, 'bob');

    // Deleting the target turns the quote into "Deleted message".
    await msg(b, 'Lunch at one?').hover();
    await msg(b, 'Lunch at one?').getByRole('button', { name: 'Delete', exact: true }).click();
    await expect.poll(() => msg(a, 'Yes, at the usual place').locator('.quote').innerText(), T).toContain('Deleted message');
    await a.screenshot({ path: path.join(SHOTS, 'rich-after-reload.png') });
    await a.context().close();
    await b.context().close();
  }, 120_000);

  it('reaches Reply and the reaction picker with the keyboard alone, and picks an emoji with the arrow keys', async () => {
    const alice = await register(env.server.url, 'ka');
    const bob = await register(env.server.url, 'kb');
    const conv = await direct(env.server.url, alice, bob);
    const s = await connect(env.server.url, bob.token);
    await s.send(conv.id, 'Keyboard target');
    s.close();
    const a = await signedIn(alice);
    await openChat(a, bob);
    await expect.poll(() => msg(a, 'Keyboard target').count(), T).toBe(1);

    const focused = () => a.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? document.activeElement?.tagName ?? '');
    /** From the message log, Tab until the focus is on the button named `name`. */
    async function tabTo(name: string) {
      await log(a).focus();
      for (let i = 0; i < 12 && (await focused()) !== name; i++) await a.keyboard.press('Tab');
      expect(await focused()).toBe(name);
    }

    await tabTo('Reply');
    await a.keyboard.press('Enter');
    await expect.poll(() => a.locator('.reply-bar').innerText(), T).toContain('Keyboard target');
    expect(await focused()).toBe('Message');
    await a.keyboard.press('Escape'); // cancels the reply
    await expect.poll(() => a.locator('.reply-bar').count(), T).toBe(0);

    await tabTo('Add reaction');
    await a.keyboard.press('Enter');
    const picker = a.getByRole('menu', { name: 'Add reaction' });
    await expect.poll(() => focused(), T).toBe('Thumbs up');
    // Escape closes it and gives the focus back
    await a.keyboard.press('Escape');
    await expect.poll(() => picker.count(), T).toBe(0);
    expect(await focused()).toBe('Add reaction');
    await a.keyboard.press('Enter');
    await expect.poll(() => focused(), T).toBe('Thumbs up');
    await a.keyboard.press('ArrowRight');
    expect(await focused()).toBe('Red heart');
    await a.keyboard.press('ArrowDown');
    await a.keyboard.press('ArrowUp');
    expect(await focused()).toBe('Red heart');
    await a.keyboard.press('Enter');
    const chip = msg(a, 'Keyboard target').locator('.reaction[data-emoji="❤️"]');
    await expect.poll(() => chip.getAttribute('aria-pressed'), T).toBe('true');
    expect(await focused()).toBe('Add reaction');
    // the chip toggles from the keyboard too
    await chip.focus();
    await a.keyboard.press('Enter');
    await expect.poll(() => chip.count(), T).toBe(0);
    await a.context().close();
  }, 60_000);

  it('cancels an upload in flight and removes a finished one: the chips go and nothing is sent with the message', async () => {
    const alice = await register(env.server.url, 'ca');
    const bob = await register(env.server.url, 'cb');
    const conv = await direct(env.server.url, alice, bob);
    const a = await signedIn(alice);
    await openChat(a, bob);

    // Hold the upload request: it stays in flight until the test lets it go.
    const held: Route[] = [];
    await a.route('**/attachments', (route) => void held.push(route));
    const input = a.locator('input[type="file"]');
    await input.setInputFiles({ name: 'big.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(256 * 1024, 7) });
    await expect.poll(() => held.length, T).toBe(1);
    const chip = a.locator('.upload', { hasText: 'big.bin' });
    expect(await chip.getAttribute('data-upload-state')).toBe('uploading');
    expect(await a.getByRole('progressbar', { name: 'Uploading big.bin' }).count()).toBe(1);
    expect(await a.getByRole('button', { name: /Send|Uploading/ }).isDisabled()).toBe(true);
    await a.getByRole('button', { name: 'Cancel upload of big.bin' }).click();
    await expect.poll(() => chip.count(), T).toBe(0);
    await held[0]!.abort().catch(() => undefined); // the browser already dropped it
    await a.unroute('**/attachments');

    // A finished upload removed before sending is not sent either.
    await input.setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('some notes') });
    await expect.poll(() => a.locator('.upload[data-upload-state="done"]').count(), T).toBe(1);
    await a.getByRole('button', { name: 'Remove notes.txt' }).click();
    await expect.poll(() => a.locator('.upload').count(), T).toBe(0);

    // Send with nothing attached does nothing; a text goes without files.
    await a.getByRole('button', { name: 'Send' }).click();
    await composer(a).fill('no files here');
    await a.getByRole('button', { name: 'Send' }).click();
    await expect.poll(() => msg(a, 'no files here').locator('.tick').getAttribute('aria-label'), T).not.toBe('Sending');
    const history = await http(env.server.url, 'GET', `/api/conversations/${conv.id}/messages`, { token: alice.token });
    expect(history.status).toBe(200);
    expect(history.body.messages.map((m: { content: string; attachments: unknown[] }) => [m.content, m.attachments.length])).toEqual([['no files here', 0]]);
    await a.context().close();
  }, 60_000);

  it('attaches a file dropped on the conversation or pasted into the composer; a swipe right on a touch screen replies', async () => {
    const alice = await register(env.server.url, 'da');
    const bob = await register(env.server.url, 'db');
    const conv = await direct(env.server.url, alice, bob);
    const s = await connect(env.server.url, bob.token);
    await s.send(conv.id, 'Swipe me');
    s.close();
    const a = await signedIn(alice);
    await openChat(a, bob);

    const files = (name: string) =>
      a.evaluateHandle((n) => {
        const dt = new DataTransfer();
        dt.items.add(new File([`the bytes of ${n}`], n, { type: 'text/plain' }));
        return dt;
      }, name);
    const section = a.locator('section.conversation');
    const dropped = await files('dropped.txt');
    await section.dispatchEvent('dragenter', { dataTransfer: dropped });
    await expect.poll(() => a.locator('.drop-hint').count(), T).toBe(1);
    await section.dispatchEvent('drop', { dataTransfer: dropped });
    await expect.poll(() => a.locator('.drop-hint').count(), T).toBe(0);
    const pasted = await files('pasted.txt');
    await composer(a).evaluate((el, dt) => el.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true })), pasted);
    await expect.poll(() => a.locator('.upload[data-upload-state="done"]').count(), T).toBe(2);
    expect(await a.locator('.upload-name').allInnerTexts()).toEqual(['dropped.txt', 'pasted.txt']);

    // a finger drags the message 80 px to the right: the reply starts
    const bubble = msg(a, 'Swipe me').locator('.bubble');
    const box = (await bubble.boundingBox())!;
    await bubble.evaluate((el, { x, y }) => {
      const fire = (type: string, dx: number) =>
        el.dispatchEvent(new PointerEvent(type, { pointerId: 7, pointerType: 'touch', isPrimary: true, clientX: x + dx, clientY: y, bubbles: true, cancelable: true }));
      fire('pointerdown', 0);
      for (const dx of [15, 40, 65, 80]) fire('pointermove', dx);
      fire('pointerup', 80);
    }, { x: box.x + 20, y: box.y + box.height / 2 });
    await expect.poll(() => a.locator('.reply-bar').innerText(), T).toContain('Swipe me');

    await composer(a).fill('both files');
    await a.getByRole('button', { name: 'Send' }).click();
    const sent = msg(a, 'both files');
    await expect.poll(() => sent.locator('.file-chip').count(), T).toBe(2);
    expect(await sent.locator('.quote').innerText()).toContain('Swipe me');
    expect(await sent.locator('.file-chip').first().getAttribute('download')).toBe('dropped.txt');
    await a.context().close();
  }, 60_000);

  it('passes an axe-core WCAG 2.1 AA audit: sign-in, a rich conversation, the reaction picker, the mention list and the image viewer', async () => {
    const alice = await register(env.server.url, 'xa');
    const bob = await register(env.server.url, 'xb');
    const carol = await register(env.server.url, 'xc');
    const conv = await direct(env.server.url, alice, bob);
    const other = await direct(env.server.url, carol, alice);
    const sb = await connect(env.server.url, bob.token);
    const sa = await connect(env.server.url, alice.token);
    const sc = await connect(env.server.url, carol.token);
    const hello = await sb.send(conv.id, `Hello @${alice.username}, here is the plan for Friday`);
    const mine = await sa.send(conv.id, 'Sounds good, send me the files');
    const answer = await sb.send(conv.id, 'Here they are', { replyToId: mine.id });
    await sa.ok('reaction:add', { messageId: answer.id, emoji: '👍' });
    await sb.ok('reaction:add', { messageId: answer.id, emoji: '👍' });
    await sb.ok('reaction:add', { messageId: hello.id, emoji: '🎉' });
    const img = await upload(bob, conv.id, 'plan.png', fs.readFileSync(await photo('plan.png')));
    const doc = await upload(bob, conv.id, 'notes.txt', Buffer.from('the notes'));
    await sb.send(conv.id, '', { attachmentIds: [img.id, doc.id] });
    await sc.send(other.id, `@${alice.username} are you coming?`);
    for (const s of [sa, sb, sc]) s.close();

    // the sign-in page
    const context = await env.browser.newContext({ viewport: { width: 1280, height: 800 }, bypassCSP: true });
    const signIn = await context.newPage();
    await signIn.goto(env.server.url + '/messages');
    await expect.poll(() => signIn.getByLabel('Username').isVisible(), T).toBe(true);
    await audit(signIn, 'the sign-in page');
    await context.close();

    const a = await signedIn(alice, { bypassCSP: true });
    // an unread mention is marked in the list
    const carolRow = a.getByRole('button', { name: new RegExp(carol.username) }).first();
    await expect.poll(() => carolRow.locator('.mention-badge').isVisible(), T).toBe(true);
    expect(await carolRow.innerText()).toContain('@');
    await audit(a, 'the conversation list');

    await openChat(a, bob);
    await expect.poll(() => loaded(log(a).locator('img[alt="plan.png"]')), T).toBeGreaterThan(0);
    await expect.poll(() => log(a).locator('.file-chip').innerText(), T).toContain('notes.txt');
    expect(await log(a).locator('.mention.mention-me').count()).toBe(1);
    expect(await log(a).locator('.quote').count()).toBe(1);
    expect(await log(a).locator('.msg.own time').count()).toBeGreaterThan(0);
    await audit(a, 'a conversation with a reply, reactions, a mention, an image and a file');
    await a.emulateMedia({ colorScheme: 'dark' });
    await audit(a, 'the same conversation, dark');
    await a.screenshot({ path: path.join(SHOTS, 'rich-conversation-dark.png') });
    await a.emulateMedia({ colorScheme: 'light' });

    await msg(a, 'Here they are').hover();
    await msg(a, 'Here they are').getByRole('button', { name: 'Add reaction' }).click();
    await expect.poll(() => a.getByRole('menu', { name: 'Add reaction' }).isVisible(), T).toBe(true);
    await audit(a, 'the open reaction picker');
    await a.screenshot({ path: path.join(SHOTS, 'rich-picker.png') });
    await a.keyboard.press('Escape');

    await composer(a).click();
    await composer(a).pressSequentially(`@${bob.username.slice(0, 3)}`);
    await expect.poll(() => a.getByRole('listbox', { name: 'People to mention' }).isVisible(), T).toBe(true);
    await audit(a, 'the mention autocomplete');
    await a.screenshot({ path: path.join(SHOTS, 'rich-mention-list.png') });
    await a.keyboard.press('Escape');
    await expect.poll(() => composer(a).getAttribute('aria-expanded'), T).toBe('false');
    await composer(a).fill('');

    await log(a).locator('img[alt="plan.png"]').click();
    await expect.poll(() => a.getByRole('dialog', { name: 'plan.png' }).isVisible(), T).toBe(true);
    await audit(a, 'the image viewer');
    await a.screenshot({ path: path.join(SHOTS, 'rich-viewer.png') });
    // Tab stays in the dialog
    for (let i = 0; i < 4; i++) {
      await a.keyboard.press('Tab');
      expect(await a.evaluate(() => !!document.activeElement?.closest('dialog'))).toBe(true);
    }
    await a.keyboard.press('Escape');
    await expect.poll(() => a.getByRole('dialog').count(), T).toBe(0);
    await a.context().close();
  }, 90_000);
});
