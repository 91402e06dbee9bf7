import type { Store } from '../store/store.js';
import { notFound, validation } from './errors.js';

/** Subscriptions a user keeps (browsers, devices); a new one past this replaces the oldest. */
export const PUSH_SUBSCRIPTIONS_PER_USER = 20;
const ENDPOINT_MAX = 2048;

export interface PushSubscriptionDeps {
  store: Store;
  /** The server's VAPID public key (base64url), for browsers to subscribe with. */
  publicKey: string;
  /** Hosts endpoints may point at (PUSH_ENDPOINT_HOSTS): `host`, `*.domain`, or `*` for any. */
  endpointHosts: readonly string[];
  now: () => number;
}

/** What a browser's PushSubscription.toJSON() gives (expirationTime and the rest ignored). */
export interface SubscriptionInput {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

/**
 * Web Push subscriptions (RFC 8030) of users' browsers, each made in one
 * session: signing out (or a password change revoking the session) ends its
 * pushes. The server POSTs to every endpoint it keeps, so an endpoint is
 * accepted only on an https host of the allow-list: a user cannot aim the
 * server at an address of its own network.
 */
export class PushSubscriptionService {
  constructor(private readonly d: PushSubscriptionDeps) {}

  get publicKey(): string {
    return this.d.publicKey;
  }

  async subscribe(userId: string, sessionId: string, input: SubscriptionInput): Promise<void> {
    const endpoint = this.checkEndpoint(input.endpoint);
    const p256dh = Buffer.from(input.keys.p256dh, 'base64url');
    if (!/^[A-Za-z0-9_-]+=*$/.test(input.keys.p256dh) || p256dh.length !== 65 || p256dh[0] !== 4) {
      throw validation('keys.p256dh must be the browser\'s P-256 public key (65 bytes, uncompressed), base64url.');
    }
    const auth = Buffer.from(input.keys.auth, 'base64url');
    if (!/^[A-Za-z0-9_-]+=*$/.test(input.keys.auth) || auth.length !== 16) throw validation('keys.auth must be 16 bytes, base64url.');
    await this.d.store.savePushSubscription(
      { userId, sessionId, endpoint, p256dh: p256dh.toString('base64url'), auth: auth.toString('base64url'), createdAt: this.d.now() },
      PUSH_SUBSCRIPTIONS_PER_USER,
    );
  }

  /** Forgets the caller's subscription with this endpoint (404 when they have none). */
  async unsubscribe(userId: string, endpoint: string): Promise<void> {
    let normal = endpoint;
    try {
      normal = new URL(endpoint).href;
    } catch {
      // not a URL: no subscription has it
    }
    if (!(await this.d.store.deletePushSubscription(userId, normal))) throw notFound('No such subscription.');
  }

  async previews(userId: string): Promise<{ previews: boolean }> {
    const user = await this.d.store.userById(userId);
    if (!user) throw notFound('No such user.');
    return { previews: user.notificationPreviews };
  }

  async setPreviews(userId: string, previews: boolean): Promise<{ previews: boolean }> {
    const user = await this.d.store.setNotificationPreviews(userId, previews);
    if (!user) throw notFound('No such user.');
    return { previews: user.notificationPreviews };
  }

  private checkEndpoint(raw: string): string {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw validation('endpoint must be an https URL.');
    }
    if (raw.length > ENDPOINT_MAX || url.protocol !== 'https:' || url.username || url.password) throw validation('endpoint must be an https URL.');
    if (!hostAllowed(url.hostname, this.d.endpointHosts)) throw validation(`Push endpoints on ${url.hostname} are not accepted by this server.`);
    return url.href;
  }
}

/** Whether `host` is on the list: an exact name, a `*.domain` pattern (subdomains only), or `*`. */
export function hostAllowed(host: string, allowed: readonly string[]): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return allowed.some((entry) => {
    const e = entry.trim().toLowerCase();
    if (e === '*') return true;
    if (e.startsWith('*.')) return h.endsWith(e.slice(1)) && h.length > e.length - 1;
    return h === e.replace(/^\[|\]$/g, '');
  });
}
