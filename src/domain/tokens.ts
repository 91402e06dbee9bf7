import { createSigner, createVerifier } from 'fast-jwt';

/** Signed, expiring bearer tokens (JWT, HS256) whose subject is a user id. */
export class TokenService {
  private readonly sign: (payload: Record<string, unknown>) => string;
  private readonly verify: (token: string) => unknown;

  constructor(secret: string, ttlSeconds: number) {
    this.sign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: ttlSeconds * 1000 });
    this.verify = createVerifier({ key: secret, algorithms: ['HS256'], cache: 10_000 }) as (t: string) => unknown;
  }

  issue(userId: string): string {
    return this.sign({ sub: userId });
  }

  /** The user id a valid, unexpired token names, and when it expires (epoch ms); null for anything else. */
  verifyToken(token: unknown): { userId: string; expiresAt: number } | null {
    if (typeof token !== 'string' || token.length === 0 || token.length > 4096) return null;
    try {
      const claims = this.verify(token) as { sub?: unknown; exp?: unknown };
      if (typeof claims.sub !== 'string' || typeof claims.exp !== 'number') return null;
      return { userId: claims.sub, expiresAt: claims.exp * 1000 };
    } catch {
      return null;
    }
  }
}
