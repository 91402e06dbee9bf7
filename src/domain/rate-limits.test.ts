import { describe, expect, it } from 'vitest';
import { addressKey, DEFAULT_MAX_SOCKETS_PER_USER, gcra, MemoryBuckets, parseRateLimits, RateLimits, rateLimitSettings, RULES } from './rate-limits.js';

describe('parseRateLimits', () => {
  it('empty keeps the defaults; exactly off turns everything off; any other value leaves them on', () => {
    expect(parseRateLimits('')).toEqual({ enabled: true, rules: RULES, maxSocketsPerUser: DEFAULT_MAX_SOCKETS_PER_USER });
    expect(parseRateLimits(' off ').enabled).toBe(false);
    for (const v of ['OFF', 'false', 'on', '1', 'send=fast']) {
      const r = rateLimitSettings(v);
      expect(r.settings.enabled, v).toBe(true);
      expect(r.settings.rules, v).toEqual(RULES);
      expect(r.problem, v).toMatch(/^RATE_LIMITS '.*'.*: the default limits apply$/);
    }
    expect(rateLimitSettings('send=2/1s').problem).toBeUndefined();
  });

  it('overrides rules, turns single rules off, and bounds sockets', () => {
    const s = parseRateLimits('send=20/1s, search=off,sockets=5,login-account=3/500ms,receipt=1/2h');
    expect(s.rules.send).toEqual({ burst: 20, perMs: 1000 });
    expect(s.rules.search).toBeNull();
    expect(s.rules['login-account']).toEqual({ burst: 3, perMs: 500 });
    expect(s.rules.receipt).toEqual({ burst: 1, perMs: 7_200_000 });
    expect(s.rules.connect).toEqual(RULES.connect);
    expect(s.maxSocketsPerUser).toBe(5);
  });

  it.each(['nope=1/1s', 'send=1', 'send=0/1s', 'send=1/0s', 'send=1/1d', 'sockets=0', 'sockets=x', 'send'])('refuses %s with a sentence', (v) => {
    expect(() => parseRateLimits(v)).toThrow(/'/);
  });
});

describe('addressKey', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::9', '2001:db8:1:2::/64'],
    ['2001:DB8:0001:0002:ffff::1', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['fe80::1', 'fe80:0:0:0::/64'],
  ])('%s is limited as %s', (address, key) => expect(addressKey(address)).toBe(key));
});

describe('GCRA buckets', () => {
  const rule = { burst: 10, perMs: 50 * 60_000 }; // the login-account default: 10, then one per 5 min

  it('a full bucket gives `burst` at once, then one per interval; the wait is exact', () => {
    let tat: number | null = null;
    for (let i = 0; i < 10; i++) {
      const r = gcra(tat, rule, 1, 0);
      expect(r.wait).toBe(0);
      tat = r.tat;
    }
    expect(gcra(tat, rule, 1, 0).wait).toBe(5 * 60_000);
    expect(gcra(tat, rule, 1, 5 * 60_000 - 1).wait).toBe(1);
    expect(gcra(tat, rule, 1, 5 * 60_000).wait).toBe(0);
  });

  it('a refused take spends nothing; a give-back returns a token, never more than a full bucket', () => {
    const b = new MemoryBuckets();
    const r = { burst: 2, perMs: 1000 };
    expect(b.takeNow('k', r, 1, 0)).toBe(0);
    expect(b.takeNow('k', r, 1, 0)).toBe(0);
    expect(b.takeNow('k', r, 1, 0)).toBe(500);
    expect(b.takeNow('k', r, 1, 0)).toBe(500);
    expect(b.takeNow('k', r, -1, 0)).toBe(0);
    expect(b.takeNow('k', r, 1, 0)).toBe(0);
    // giving back more than was taken leaves a full bucket, which is forgotten
    b.takeNow('k', r, -5, 0);
    expect(b.size).toBe(0);
    b.close();
  });

  it('keeps only buckets that are not full, and at most maxKeys of them', () => {
    const b = new MemoryBuckets(3);
    const r = { burst: 1, perMs: 1000 };
    for (const k of ['a', 'b', 'c', 'd']) b.takeNow(k, r, 1, 0);
    expect(b.size).toBe(3);
    b.sweep(1000);
    expect(b.size).toBe(0);
    b.close();
  });
});

describe('RateLimits', () => {
  it('throws rate_limited with an integer retryAfter, counts refusals, and passes everything when off', async () => {
    const refused: string[] = [];
    const on = new RateLimits(parseRateLimits('send=1/1s'), new MemoryBuckets(), () => 0, (rule) => refused.push(rule));
    await on.take('send', 'u1');
    await expect(on.take('send', 'u1')).rejects.toMatchObject({ code: 'rate_limited', data: { retryAfter: 1000 } });
    await on.take('send', 'u2');
    expect(refused).toEqual(['send']);
    // addresses of this machine are not limited by address
    for (let i = 0; i < 50; i++) await on.takeAddress('register-address', '127.0.0.1');
    const off = new RateLimits(parseRateLimits('off'), new MemoryBuckets(), () => 0);
    for (let i = 0; i < 50; i++) await off.take('send', 'u1');
    on.close();
    off.close();
  });
});
