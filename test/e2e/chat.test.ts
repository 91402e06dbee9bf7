/**
 * Two people chat in real browsers (Debian's chromium driven by
 * playwright-core) through the web client served at /messages.
 */
import path from 'node:path';
import type { BrowserContext, Page, WebSocketRoute } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { uniqueName } from '../helpers/client.js';
import { SHOTS, useBrowser } from '../helpers/browser.js';

const env = useBrowser();
const { run } = env;

/** A browser context whose network can be cut, websockets included. */
async function person(viewport = { width: 1280, height: 800 }) {
  const context: BrowserContext = await env.browser.newContext({ viewport });
  let offline = false;
  const sockets = new Set<WebSocketRoute>();
  await context.routeWebSocket(/\/socket\.io\//, (ws) => {
    if (offline) return void ws.close();
    sockets.add(ws);
    ws.connectToServer();
    ws.onClose(() => sockets.delete(ws));
  });
  await context.route(/\/socket\.io\//, (route) => (offline ? route.abort() : route.continue()));
  const page: Page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // The server's Content-Security-Policy must not block anything the client does.
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) errors.push(m.text());
  });
  await page.goto(env.server.url + '/messages');
  return {
    page,
    errors,
    async goOffline() {
      offline = true;
      await context.setOffline(true);
      for (const ws of [...sockets]) await ws.close();
    },
    async goOnline() {
      offline = false;
      await context.setOffline(false);
    },
  };
}

async function signUp(page: Page, username: string) {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect.poll(() => page.getByRole('button', { name: 'New chat' }).isVisible(), { timeout: 10_000 }).toBe(true);
}

const log = (page: Page) => page.getByRole('log', { name: 'Messages' });

async function send(page: Page, text: string) {
  await page.getByRole('combobox', { name: 'Message', exact: true }).fill(text);
  await page.getByRole('button', { name: 'Send' }).click();
}

/** The texts in the message log, in order. */
async function texts(page: Page, expected: string[]): Promise<string[]> {
  const all = await log(page).innerText();
  return expected.filter((t) => all.includes(t)).sort((a, b) => all.indexOf(a) - all.indexOf(b));
}

describe.runIf(run)('two people chat in the browser', () => {
  it('sign up, find each other, chat both ways, typing, read ticks, offline and back: every message once, in order', async () => {
    const alice = uniqueName('alice');
    const bob = uniqueName('bob');
    const a = await person();
    const b = await person({ width: 390, height: 844 });
    await signUp(a.page, alice);
    await signUp(b.page, bob);

    // alice finds bob and starts a direct chat
    await a.page.getByRole('button', { name: 'New chat' }).click();
    await a.page.getByLabel('Find people').fill(bob.slice(0, 6));
    await a.page.getByRole('button', { name: new RegExp(bob) }).click();
    await send(a.page, 'Hi Bob! 👋');
    await expect.poll(() => log(a.page).innerText(), { timeout: 10_000 }).toContain('Hi Bob! 👋');

    // bob sees the conversation appear and opens it
    await b.page.getByRole('button', { name: new RegExp(alice) }).first().click({ timeout: 10_000 });
    await expect.poll(() => log(b.page).innerText(), { timeout: 10_000 }).toContain('Hi Bob! 👋');

    // alice's tick turns to Read once bob has it open
    await expect.poll(() => a.page.getByRole('img', { name: 'Read' }).count(), { timeout: 10_000 }).toBeGreaterThan(0);

    // typing shows on the other side
    await b.page.getByRole('combobox', { name: 'Message', exact: true }).pressSequentially('Hello Al', { delay: 30 });
    await expect.poll(() => a.page.getByText(/is typing/).isVisible(), { timeout: 10_000 }).toBe(true);
    await b.page.getByRole('combobox', { name: 'Message', exact: true }).fill('Hello Alice — 東京 in 5?');
    await b.page.getByRole('button', { name: 'Send' }).click();
    await expect.poll(() => log(a.page).innerText(), { timeout: 10_000 }).toContain('Hello Alice — 東京 in 5?');
    await a.page.screenshot({ path: path.join(SHOTS, 'desktop-chat.png') });
    await b.page.screenshot({ path: path.join(SHOTS, 'phone-chat.png') });

    // bob loses the network; alice sends three messages
    await b.goOffline();
    await expect.poll(() => b.page.getByRole('status').innerText(), { timeout: 15_000 }).toMatch(/Reconnecting|Catching up/);
    const missed = ['While you were away 1', 'While you were away 2', 'While you were away 3'];
    for (const text of missed) await send(a.page, text);
    await expect.poll(() => a.page.getByRole('img', { name: 'Sent' }).count(), { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
    // and bob, offline, writes a reply: it shows at once, pending
    await send(b.page, 'Typed while offline');
    await expect.poll(() => log(b.page).innerText(), { timeout: 5_000 }).toContain('Typed while offline');
    await b.page.screenshot({ path: path.join(SHOTS, 'phone-offline.png') });

    // bob comes back: every message exactly once, in order, and his reply is sent once
    await b.goOnline();
    await expect.poll(() => texts(b.page, missed), { timeout: 30_000 }).toEqual(missed);
    await expect.poll(() => log(a.page).innerText(), { timeout: 30_000 }).toContain('Typed while offline');
    const all = await log(b.page).innerText();
    for (const text of ['Hi Bob! 👋', ...missed, 'Typed while offline']) expect(all.split(text).length - 1, `"${text}" once at bob`).toBe(1);
    const atAlice = await log(a.page).innerText();
    expect(atAlice.split('Typed while offline').length - 1, 'the offline reply reached alice once').toBe(1);
    await b.page.screenshot({ path: path.join(SHOTS, 'phone-back-online.png') });
    await a.page.screenshot({ path: path.join(SHOTS, 'desktop-after.png') });

    expect(a.errors).toEqual([]);
    expect(b.errors).toEqual([]);
  }, 120_000);
});
