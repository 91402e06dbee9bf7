import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Password hashes with scrypt (memory-hard, in Node's crypto, run on the
 * libuv thread pool so the event loop never waits on it). Stored as
 * `scrypt$N$r$p$salt$hash` (base64), so the cost can rise later without
 * invalidating old hashes.
 */
const KEY_LEN = 32;

function derive(password: string, salt: Buffer, opts: { N: number; r: number; p: number }): Promise<Buffer> {
  const options: ScryptOptions = { ...opts, maxmem: 256 * opts.N * opts.r + 1024 * 1024 };
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, KEY_LEN, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashPassword(password: string, cost: number): Promise<string> {
  const salt = randomBytes(16);
  const params = { N: cost, r: 8, p: 1 };
  const key = await derive(password, salt, params);
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64'), key.toString('base64')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const key = await derive(password, Buffer.from(salt, 'base64'), { N: Number(n), r: Number(r), p: Number(p) });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/**
 * Hashing costs 128·N·r bytes and tens of milliseconds each; a flood of
 * logins must not queue without bound. At most `concurrency` run at once,
 * at most `maxWaiting` wait; past that the caller gets `overloaded()`.
 * Each caller names who it hashes for (an address, an account): one of them
 * may hold at most `maxPerKey` places, running or waiting, and past that
 * gets `tooMany()`, so one client cannot take the hashing from everyone.
 */
export class PasswordHasher {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly perKey = new Map<string, number>();

  constructor(
    private readonly cost: number,
    private readonly o: {
      overloaded: () => Error;
      tooMany: () => Error;
      concurrency?: number;
      maxWaiting?: number;
      /** Places one key may hold; Infinity: no share. */
      maxPerKey?: number;
    },
  ) {}

  hash(key: string, password: string): Promise<string> {
    return this.limit(key, () => hashPassword(password, this.cost));
  }

  verify(key: string, password: string, stored: string): Promise<boolean> {
    return this.limit(key, () => verifyPassword(password, stored));
  }

  private async limit<T>(key: string, work: () => Promise<T>): Promise<T> {
    const held = this.perKey.get(key) ?? 0;
    if (held >= (this.o.maxPerKey ?? Infinity)) throw this.o.tooMany();
    if (this.running >= (this.o.concurrency ?? 4) && this.waiting.length >= (this.o.maxWaiting ?? 256)) throw this.o.overloaded();
    this.perKey.set(key, held + 1);
    try {
      if (this.running >= (this.o.concurrency ?? 4)) await new Promise<void>((resolve) => this.waiting.push(resolve));
      else this.running++;
      try {
        return await work();
      } finally {
        const next = this.waiting.shift();
        if (next) next(); // hand the slot over
        else this.running--;
      }
    } finally {
      const left = (this.perKey.get(key) ?? 1) - 1;
      if (left > 0) this.perKey.set(key, left);
      else this.perKey.delete(key);
    }
  }
}
