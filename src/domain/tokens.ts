import { createSigner, createVerifier } from 'fast-jwt';

/**
 * Signed, expiring bearer tokens (JWT, HS256): the subject is a user id and
 * `sid` the session the token stands for (revocable in the store). A token
 * without a session (issued before sessions existed) is refused.
 */
export class TokenService {
  private readonly sign: (payload: Record<string, unknown>) => string;
  private readonly verify: (token: string) => unknown;

  constructor(secret: string, ttlSeconds: number) {
    this.ttlMs = ttlSeconds * 1000;
    this.sign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: ttlSeconds * 1000 });
    this.verify = createVerifier({ key: secret, algorithms: ['HS256'], cache: 10_000 }) as (t: string) => unknown;
  }

  readonly ttlMs: number;

  issue(userId: string, sessionId: string): string {
    return this.sign({ sub: userId, sid: sessionId });
  }

  /** The user and session a valid, unexpired token names, and when it expires (epoch ms); null for anything else. */
  verifyToken(token: unknown): { userId: string; sessionId: string; expiresAt: number } | null {
    if (typeof token !== 'string' || token.length === 0 || token.length > 4096) return null;
    try {
      const claims = this.verify(token) as { sub?: unknown; sid?: unknown; exp?: unknown };
      if (typeof claims.sub !== 'string' || typeof claims.sid !== 'string' || typeof claims.exp !== 'number') return null;
      return { userId: claims.sub, sessionId: claims.sid, expiresAt: claims.exp * 1000 };
    } catch {
      return null;
    }
  }
}
