import { describe, expect, it } from 'vitest';
import { hashPassword, PasswordHasher, verifyPassword } from './passwords.js';

describe('passwords', () => {
  it('hash with scrypt into a self-describing string, and verify', async () => {
    const h = await hashPassword('correct horse', 1024);
    expect(h).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(await verifyPassword('correct horse', h)).toBe(true);
    expect(await verifyPassword('correct horsf', h)).toBe(false);
    expect(await hashPassword('correct horse', 1024)).not.toBe(h); // salted
    expect(await verifyPassword('x', 'not-a-hash')).toBe(false);
  });

  it('the hasher runs at most `concurrency` at once and refuses past `maxWaiting`', async () => {
    const overloaded = new Error('overloaded');
    const hasher = new PasswordHasher(1024, { overloaded: () => overloaded, tooMany: () => new Error('unused'), concurrency: 2, maxWaiting: 3 });
    const accepted = Array.from({ length: 5 }, (_, i) => hasher.hash(`k${i}`, `pw${i}`));
    await expect(hasher.hash('k9', 'one too many')).rejects.toBe(overloaded);
    const hashes = await Promise.all(accepted);
    expect(hashes).toHaveLength(5);
    expect(await hasher.verify('k3', 'pw3', hashes[3]!)).toBe(true);
    // the slots came back: it serves again
    expect(await hasher.verify('k0', 'pw0', hashes[0]!)).toBe(true);
  });

  it('one key holds at most its share of places; others still get theirs', async () => {
    const tooMany = new Error('too many');
    const hasher = new PasswordHasher(1024, { overloaded: () => new Error('overloaded'), tooMany: () => tooMany, concurrency: 1, maxWaiting: 100, maxPerKey: 2 });
    const mine = [hasher.hash('flood', 'a'), hasher.hash('flood', 'b')];
    await expect(hasher.hash('flood', 'c')).rejects.toBe(tooMany);
    const theirs = hasher.hash('someone', 'd');
    expect(await Promise.all([...mine, theirs])).toHaveLength(3);
    // its places came back
    expect(await hasher.hash('flood', 'e')).toMatch(/^scrypt\$/);
  });
});
