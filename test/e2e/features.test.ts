/**
 * The rest of the web client in a real browser: groups, editing and deleting,
 * search with a jump to the hit, infinite scroll of history, archive.
 */
import path from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { connect, direct, register, uniqueName, type Account } from '../helpers/client.js';
import { SHOTS, useBrowser } from '../helpers/browser.js';

const env = useBrowser();
const { run } = env;

/** A page signed in as an account made over the API (the sign-in form itself is tested in chat.test.ts). */
async function signedIn(account: Account): Promise<Page> {
  const context = await env.browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on('dialog', (d) => void d.accept());
  await page.goto(env.server.url + '/messages');
  await page.getByLabel('Username').fill(account.username);
  await page.getByLabel('Password').fill(account.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect.poll(() => page.getByRole('button', { name: 'New chat' }).isVisible(), { timeout: 10_000 }).toBe(true);
  return page;
}

const log = (page: Page) => page.getByRole('log', { name: 'Messages' });
const composer = (page: Page) => page.getByRole('combobox', { name: 'Message', exact: true });

describe.runIf(run)('the web client, feature by feature', () => {
  it('creates a group, sends, edits and deletes a message; the other member sees each change', async () => {
    const alice = await register(env.server.url, 'ga');
    const bob = await register(env.server.url, 'gb');
    const carol = await register(env.server.url, 'gc');
    const a = await signedIn(alice);
    const b = await signedIn(bob);
    const title = `Trip ${uniqueName('t')}`;

    await a.getByRole('button', { name: 'New group' }).click();
    await a.getByLabel('Group name').fill(title);
    for (const who of [bob, carol]) {
      await a.getByLabel('Find people').fill(who.username);
      await a.getByRole('button', { name: new RegExp(who.username) }).click();
    }
    await a.getByRole('button', { name: 'Create group' }).click();
    await composer(a).fill('draft with a tpyo');
    await a.getByRole('button', { name: 'Send' }).click();
    await expect.poll(() => log(a).innerText(), { timeout: 10_000 }).toContain('draft with a tpyo');

    await b.getByRole('button', { name: new RegExp(title) }).first().click({ timeout: 10_000 });
    await expect.poll(() => log(b).innerText(), { timeout: 10_000 }).toContain('draft with a tpyo');

    // edit
    await log(a).getByText('draft with a tpyo').hover();
    await a.getByRole('button', { name: 'Edit', exact: true }).click();
    await a.getByRole('textbox', { name: 'Edit message' }).fill('draft with a typo fixed');
    await a.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => log(b).innerText(), { timeout: 10_000 }).toContain('draft with a typo fixed');
    expect(await log(b).innerText()).toMatch(/edited/);

    // delete
    await log(a).getByText('draft with a typo fixed').hover();
    await a.getByRole('button', { name: 'Delete', exact: true }).click();
    await expect.poll(() => log(b).innerText(), { timeout: 10_000 }).toContain('Message deleted');
    expect(await log(b).innerText()).not.toContain('draft with a typo fixed');
    await b.screenshot({ path: path.join(SHOTS, 'group-edit-delete.png') });
    await a.context().close();
    await b.context().close();
  }, 90_000);

  it('searches across conversations and jumps to the hit, far back in history; scrolling up loads older messages', async () => {
    const alice = await register(env.server.url, 'sa');
    const bob = await register(env.server.url, 'sb');
    const conv = await direct(env.server.url, alice, bob);
    const s = await connect(env.server.url, bob.token);
    const needle = `needle${uniqueName('n').replace(/[^a-z0-9]/g, '')}`;
    for (let i = 1; i <= 130; i++) await s.send(conv.id, i === 7 ? `the ${needle} is here (message 7)` : `filler message ${i}`);
    s.close();

    // scrolling to the top loads older pages, in order, each once
    const a = await signedIn(alice);
    await a.getByRole('button', { name: new RegExp(bob.username) }).first().click();
    await expect.poll(() => log(a).innerText(), { timeout: 10_000 }).toContain('filler message 130');
    const loaded = async () => (await log(a).innerText()).match(/filler message \d+/g)?.length ?? 0;
    while ((await loaded()) < 129) {
      const before = await loaded();
      await log(a).evaluate((el) => (el.scrollTop = 0));
      await expect.poll(loaded, { timeout: 10_000 }).toBeGreaterThan(before);
    }
    const seen = [...(await log(a).innerText()).matchAll(/filler message (\d+)/g)].map((m) => Number(m[1]));
    expect(seen).toEqual(Array.from({ length: 129 }, (_, i) => (i < 6 ? i + 1 : i + 2)));
    await a.context().close();

    // search (in a fresh session) finds the old message; clicking it opens the conversation around it
    const fresh = await signedIn(alice);
    await fresh.getByLabel('Search').fill(needle);
    const hit = fresh.getByRole('button', { name: new RegExp(needle) });
    await expect.poll(() => hit.count(), { timeout: 10_000 }).toBe(1);
    expect(await hit.locator('mark').first().innerText()).toBe(needle);
    await hit.click();
    await expect.poll(() => log(fresh).innerText(), { timeout: 10_000 }).toContain(`the ${needle} is here`);
    await fresh.screenshot({ path: path.join(SHOTS, 'search-jump.png') });
    await fresh.context().close();
  }, 90_000);

  it('archives a conversation: it moves behind the Archived toggle and back', async () => {
    const alice = await register(env.server.url, 'aa');
    const bob = await register(env.server.url, 'ab');
    await direct(env.server.url, alice, bob);
    const a = await signedIn(alice);
    const row = () => a.getByRole('button', { name: new RegExp(bob.username) });
    await row().first().click();
    await a.getByRole('button', { name: 'Archive', exact: true }).click();
    await expect.poll(() => row().count(), { timeout: 10_000 }).toBe(0);
    await a.getByRole('button', { name: 'Archived' }).click();
    await expect.poll(() => row().count(), { timeout: 10_000 }).toBe(1);
    await a.screenshot({ path: path.join(SHOTS, 'archived.png') });
    await a.context().close();
  }, 60_000);
});
