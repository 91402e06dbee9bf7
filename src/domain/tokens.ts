import { createSigner, createVerifier } from 'fast-jwt';

/** Signed, expiring bearer tokens (JWT, HS256) whose subject is a user id. */
export class TokenService {
  private readonly sign: (payload: Record<string, unknown>) => string;
  private readonly verify: (token: string) => { sub?: unknown };

  constructor(secret: string, ttlSeconds: number) {
    this.sign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: ttlSeconds * 1000 });
    this.verify = createVerifier({ key: secret, algorithms: ['HS256'], cache: 10_000 }) as (t: string) => { sub?: unknown };
  }

  issue(userId: string): string {
    return this.sign({ sub: userId });
  }

  /** The user id a valid, unexpired token names; null for anything else. */
  subject(token: unknown): string | null {
    if (typeof token !== 'string' || token.length === 0 || token.length > 4096) return null;
    try {
      const claims = this.verify(token);
      return typeof claims.sub === 'string' ? claims.sub : null;
    } catch {
      return null;
    }
  }
}
