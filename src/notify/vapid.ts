import path from 'node:path';
import webpush from 'web-push';
import { ConfigError, type Config } from '../config/config.js';
import { generatedOnce } from '../config/secret.js';

/** The server's Web Push identity (RFC 8292): push services check each push against the key a browser subscribed with. */
export interface VapidKeys {
  /** Uncompressed P-256 point, base64url: what browsers subscribe with (`applicationServerKey`). */
  publicKey: string;
  privateKey: string;
  /** mailto: or https: URL push services may contact. */
  subject: string;
}

/** The keys of a stored pair (JSON), checked; ConfigError naming `where` when they are not a P-256 pair. */
export function parseVapidPair(text: string, where: string): { publicKey: string; privateKey: string } {
  let pair: { publicKey?: unknown; privateKey?: unknown };
  try {
    pair = JSON.parse(text) as typeof pair;
  } catch {
    throw new ConfigError(`${where} holds no VAPID key pair (not JSON). Restore it, or delete it to make a new one (every browser then subscribes again).`);
  }
  return checkPair(String(pair.publicKey ?? ''), String(pair.privateKey ?? ''), where);
}

function checkPair(publicKey: string, privateKey: string, where: string): { publicKey: string; privateKey: string } {
  const pub = Buffer.from(publicKey, 'base64url');
  const priv = Buffer.from(privateKey, 'base64url');
  if (pub.length !== 65 || pub[0] !== 4 || priv.length !== 32) {
    throw new ConfigError(`${where}: a VAPID public key is 65 bytes (an uncompressed P-256 point) and a private key 32, both base64url`);
  }
  return { publicKey, privateKey };
}

const makePair = (): string => JSON.stringify(webpush.generateVAPIDKeys());

/**
 * VAPID_PUBLIC_KEY / VAPID_PRIVATE_KEY when set; otherwise a pair made once:
 * with several nodes (`shared`: PostgreSQL) kept in the database, so that
 * every node signs with the key browsers subscribed with; with one, kept in
 * DATA_DIR/vapid-keys.json (mode 0600).
 */
export async function resolveVapidKeys(config: Config, shared?: (name: string, make: () => string) => Promise<string>): Promise<VapidKeys> {
  const subject = config.vapidSubject;
  if (config.vapidPublicKey) return { ...checkPair(config.vapidPublicKey, config.vapidPrivateKey, 'VAPID_PUBLIC_KEY / VAPID_PRIVATE_KEY'), subject };
  if (shared) return { ...parseVapidPair(await shared('vapid', makePair), 'the server_keys table (vapid)'), subject };
  const file = path.join(config.dataDir, 'vapid-keys.json');
  return { ...generatedOnce(file, makePair, parseVapidPair), subject };
}
