import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import webpush from 'web-push';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config/config.js';
import { resolveVapidKeys } from './vapid.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-vapid-'));
  dirs.push(d);
  return d;
};

describe('resolveVapidKeys', () => {
  it('makes a pair once into DATA_DIR/vapid-keys.json (0600) and reads it back at every start', async () => {
    const dataDir = tmp();
    const config = loadConfig({}, { dataDir });
    const first = await resolveVapidKeys(config);
    expect(Buffer.from(first.publicKey, 'base64url')).toHaveLength(65);
    expect(Buffer.from(first.privateKey, 'base64url')).toHaveLength(32);
    expect(first.subject).toBe('mailto:admin@parley.invalid');
    const file = path.join(dataDir, 'vapid-keys.json');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(await resolveVapidKeys(config)).toEqual(first);
  });

  it('takes the configured pair; refuses a damaged file or a half pair', async () => {
    const pair = webpush.generateVAPIDKeys();
    const config = loadConfig({}, { dataDir: tmp(), vapidPublicKey: pair.publicKey, vapidPrivateKey: pair.privateKey, vapidSubject: 'https://chat.example.com' });
    expect(await resolveVapidKeys(config)).toEqual({ ...pair, subject: 'https://chat.example.com' });
    const dataDir = tmp();
    fs.writeFileSync(path.join(dataDir, 'vapid-keys.json'), '{"publicKey":"abc"}');
    await expect(resolveVapidKeys(loadConfig({}, { dataDir }))).rejects.toBeInstanceOf(ConfigError);
    expect(() => loadConfig({}, { vapidPublicKey: pair.publicKey })).toThrow(ConfigError);
    await expect(resolveVapidKeys(loadConfig({}, { dataDir: tmp(), vapidPublicKey: 'short', vapidPrivateKey: 'short' }))).rejects.toBeInstanceOf(ConfigError);
  });

  it('with several nodes, keeps the pair where every node reads it (the first one made wins)', async () => {
    const kept = new Map<string, string>();
    const shared = async (name: string, make: () => string) => {
      if (!kept.has(name)) kept.set(name, make());
      return kept.get(name)!;
    };
    const config = loadConfig({}, { dataDir: tmp() });
    const a = await resolveVapidKeys(config, shared);
    const b = await resolveVapidKeys(config, shared);
    expect(b).toEqual(a);
    expect(fs.existsSync(path.join(config.dataDir, 'vapid-keys.json'))).toBe(false);
  });
});
