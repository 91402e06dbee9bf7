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
    const hasher = new PasswordHasher(1024, () => overloaded, 2, 3);
    const accepted = Array.from({ length: 5 }, (_, i) => hasher.hash(`pw${i}`));
    await expect(hasher.hash('one too many')).rejects.toBe(overloaded);
    const hashes = await Promise.all(accepted);
    expect(hashes).toHaveLength(5);
    expect(await hasher.verify('pw3', hashes[3]!)).toBe(true);
    // the slots came back: it serves again
    expect(await hasher.verify('pw0', hashes[0]!)).toBe(true);
  });
});
