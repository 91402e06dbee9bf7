import { DomainError } from './errors.js';

/**
 * Rate limits: how much one user, one address or one account may do in a
 * span of time. Each rule is a token bucket of `burst` tokens that refills
 * completely over `perMs` (so `burst / perMs` a millisecond in the long
 * run), kept as GCRA (the "theoretical arrival time" of the bucket: one
 * number per key, the form Redis-backed limiters use). A refused action
 * takes nothing, so a client that waits `retryAfter` gets through.
 */
export interface RateRule {
  burst: number;
  perMs: number;
}

/** Every rule, what it counts and who it keys on (docs/security.md lists them with their defaults). */
export const RULES = {
  /** Failed logins of one username, whoever sends them (a success gives its token back). */
  'login-account': { burst: 10, perMs: 50 * 60_000 },
  /** Login attempts from one address. */
  'login-address': { burst: 30, perMs: 5 * 60_000 },
  /** Registrations from one address. */
  'register-address': { burst: 10, perMs: 60 * 60_000 },
  /** Messages sent, edited or deleted by one user (every socket and node). */
  send: { burst: 100, perMs: 10_000 },
  /** Delivered and read markers of one user. */
  receipt: { burst: 300, perMs: 10_000 },
  /** Searches of one user (messages and users). */
  search: { burst: 30, perMs: 60_000 },
  /** Conversations created and membership changes by one user. */
  conversation: { burst: 60, perMs: 60_000 },
  /** Socket connections opened by one user. */
  connect: { burst: 60, perMs: 60_000 },
  /** Files uploaded by one user. */
  upload: { burst: 30, perMs: 60_000 },
} as const satisfies Record<string, RateRule>;

export type RuleName = keyof typeof RULES;
export const RULE_NAMES = Object.keys(RULES) as RuleName[];

/** Sockets one user may hold open at once, over every node. */
export const DEFAULT_MAX_SOCKETS_PER_USER = 100;

/** What RATE_LIMITS says: off, or the rules (defaults with any overrides). */
export interface RateLimitSettings {
  enabled: boolean;
  rules: Record<RuleName, RateRule | null>;
  maxSocketsPerUser: number;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * The contract's reading of RATE_LIMITS: `off` turns the limits off, any
 * other value leaves them on. A value that is not `off` and cannot be read
 * as overrides keeps the defaults; `problem` says why (to be logged).
 */
export function rateLimitSettings(value: string): { settings: RateLimitSettings; problem?: string } {
  try {
    return { settings: parseRateLimits(value) };
  } catch (e) {
    return { settings: parseRateLimits(''), problem: `RATE_LIMITS ${(e as Error).message}: the default limits apply` };
  }
}

/**
 * Parses RATE_LIMITS: `off` turns every limit off; empty keeps the
 * defaults; otherwise a comma-separated list of overrides,
 * `rule=N/<duration>` (N actions, refilled over the duration: `500ms`,
 * `10s`, `5m`, `1h`), `rule=off`, or `sockets=N`. Throws a sentence naming
 * the bad part.
 */
export function parseRateLimits(value: string): RateLimitSettings {
  const rules: Record<RuleName, RateRule | null> = { ...RULES };
  const v = value.trim();
  if (v === 'off') return { enabled: false, rules, maxSocketsPerUser: Infinity };
  let maxSocketsPerUser = DEFAULT_MAX_SOCKETS_PER_USER;
  for (const part of v.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [name, setting] = part.split('=').map((s) => s.trim());
    if (name === 'sockets') {
      const n = Number(setting);
      if (!Number.isInteger(n) || n < 1) throw new Error(`'${part}': sockets=N needs a whole number ≥ 1`);
      maxSocketsPerUser = n;
      continue;
    }
    if (!name || !(name in RULES)) throw new Error(`'${part}': unknown rule (one of ${RULE_NAMES.join(', ')}, sockets)`);
    if (setting === 'off') {
      rules[name as RuleName] = null;
      continue;
    }
    const m = /^(\d+)\/(\d+)(ms|s|m|h)$/.exec(setting ?? '');
    const burst = Number(m?.[1]);
    const perMs = Number(m?.[2]) * (UNIT_MS[m?.[3] ?? ''] ?? NaN);
    if (!m || !(burst >= 1) || !(perMs >= 1)) throw new Error(`'${part}': expected ${name}=N/<duration> (e.g. 100/10s), or ${name}=off`);
    rules[name as RuleName] = { burst, perMs };
  }
  return { enabled: true, rules, maxSocketsPerUser };
}

/**
 * Where buckets live: this process's memory, or Redis so that a limit holds
 * over every node. `take` spends `cost` tokens (a negative cost gives them
 * back) and answers 0, or how many ms to wait when there are not enough
 * (then nothing is spent).
 */
export interface RateBuckets {
  take(key: string, rule: RateRule, cost: number, now: number): Promise<number>;
  close(): void;
}

/**
 * One GCRA step, shared by the memory buckets and the Redis script (which
 * does the same arithmetic): `tat` is the stored arrival time (or null),
 * answers the new one, or the wait.
 */
export function gcra(tat: number | null, rule: RateRule, cost: number, now: number): { tat: number; wait: number } {
  const interval = rule.perMs / rule.burst;
  const base = Math.max(tat ?? now, now);
  const next = Math.max(now, base + cost * interval);
  const wait = next - now - rule.perMs;
  if (cost > 0 && wait > 0) return { tat: tat ?? now, wait: Math.ceil(wait) };
  return { tat: next, wait: 0 };
}

/** Buckets in this process: a map of arrival times, swept of full buckets. */
export class MemoryBuckets implements RateBuckets {
  private readonly tats = new Map<string, number>();
  private readonly sweeper: NodeJS.Timeout;

  /** `maxKeys` bounds memory under a flood of distinct keys (addresses): the oldest are forgotten. */
  constructor(private readonly maxKeys = 200_000) {
    this.sweeper = setInterval(() => this.sweep(Date.now()), 60_000);
    this.sweeper.unref();
  }

  async take(key: string, rule: RateRule, cost: number, now: number): Promise<number> {
    return this.takeNow(key, rule, cost, now);
  }

  /** The same, synchronously (a fallback while Redis is unreachable). */
  takeNow(key: string, rule: RateRule, cost: number, now: number): number {
    const r = gcra(this.tats.get(key) ?? null, rule, cost, now);
    if (r.wait > 0) {
      // Still in use: moved last, so a flood of other keys forgets it last.
      this.tats.delete(key);
      this.tats.set(key, r.tat);
      return r.wait;
    }
    if (r.tat <= now) this.tats.delete(key);
    else {
      this.tats.delete(key); // re-inserted last: the map's order is by last use
      this.tats.set(key, r.tat);
      if (this.tats.size > this.maxKeys) this.tats.delete(this.tats.keys().next().value as string);
    }
    return 0;
  }

  /** A bucket whose arrival time has passed is full: nothing to keep. */
  sweep(now: number): void {
    for (const [key, tat] of this.tats) if (tat <= now) this.tats.delete(key);
  }

  get size(): number {
    return this.tats.size;
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}

export const rateLimited = (retryAfter: number, message = 'Too many requests; retry later.') =>
  new DomainError('rate_limited', message, { retryAfter: Math.max(1, Math.ceil(retryAfter)) });

/**
 * What an address is limited as: an IPv4 address itself; an IPv6 address
 * by its /64 (one subscriber usually holds a whole /64, and would otherwise
 * have 2^64 buckets); an IPv4-mapped IPv6 address as the IPv4 one.
 */
export function addressKey(address: string): string {
  const a = address.toLowerCase();
  if (a.startsWith('::ffff:') && a.includes('.')) return a.slice(7);
  if (!a.includes(':')) return a;
  const [head = '', tail = ''] = a.split('::', 2);
  const h = head ? head.split(':') : [];
  const t = a.includes('::') && tail ? tail.split(':') : [];
  const groups = a.includes('::') ? [...h, ...Array(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t] : h;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/** Addresses that are this machine (a local client, or a proxy not declared with TRUST_PROXY). */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return true;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/**
 * The limits, as the transports and services ask for them. With limits off
 * every check passes at once.
 */
export class RateLimits {
  constructor(
    readonly settings: RateLimitSettings,
    private readonly buckets: RateBuckets,
    private readonly now: () => number,
    /** Told of every refusal (metrics). */
    private readonly onRefused: (rule: RuleName) => void = () => undefined,
  ) {}

  get enabled(): boolean {
    return this.settings.enabled;
  }

  /**
   * Spends `cost` of the rule's bucket for `subject` (a user id, an address,
   * a username), or throws `rate_limited` with how long to wait. Addresses
   * of this machine are not limited by address: behind a reverse proxy,
   * declare it with TRUST_PROXY so the client's own address counts.
   */
  async take(rule: RuleName, subject: string, cost = 1): Promise<void> {
    const r = this.settings.enabled ? this.settings.rules[rule] : null;
    if (!r) return;
    const wait = await this.buckets.take(`${rule}:${subject}`, r, cost, this.now());
    if (wait > 0) {
      this.onRefused(rule);
      throw rateLimited(wait, MESSAGES[rule]);
    }
  }

  /** Gives a token back (a login that succeeded does not count as a failure). */
  async giveBack(rule: RuleName, subject: string): Promise<void> {
    const r = this.settings.enabled ? this.settings.rules[rule] : null;
    if (r) await this.buckets.take(`${rule}:${subject}`, r, -1, this.now());
  }

  /** Per-address rules, skipped for loopback addresses. */
  async takeAddress(rule: RuleName, address: string | undefined): Promise<void> {
    if (!isLoopback(address)) await this.take(rule, addressKey(address as string));
  }

  close(): void {
    this.buckets.close();
  }
}

const MESSAGES: Record<RuleName, string> = {
  'login-account': 'Too many failed sign-ins for this account; retry later.',
  'login-address': 'Too many sign-ins from this address; retry later.',
  'register-address': 'Too many registrations from this address; retry later.',
  send: 'Too many messages; retry later.',
  receipt: 'Too many receipts; retry later.',
  search: 'Too many searches; retry later.',
  conversation: 'Too many conversation changes; retry later.',
  connect: 'Too many connections; retry later.',
  upload: 'Too many uploads; retry later.',
};
