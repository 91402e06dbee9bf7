import type { AuthResponse, ChangePasswordBody, LoginBody, RegisterBody } from '../protocol/http.js';
import type { User } from '../protocol/models.js';
import { UniqueViolation, type Store, type UserRecord } from '../store/store.js';
import { DomainError, forbidden, notFound } from './errors.js';
import type { EventSink } from './events.js';
import { hashPassword, PasswordHasher } from './passwords.js';
import { addressKey, isLoopback, rateLimited, type RateLimits } from './rate-limits.js';
import type { PresenceRegistry } from './presence.js';
import type { TokenService } from './tokens.js';
import { userView } from './views.js';

export interface AccountDeps {
  store: Store;
  tokens: TokenService;
  presence: PresenceRegistry;
  /** To disconnect the sockets of revoked sessions. */
  events: EventSink;
  limits: RateLimits;
  scryptCost: number;
  now: () => number;
}

/** Registration, login, tokens, and the user directory. */
export class AccountService {
  /** Verified against when the username is unknown, so timing does not tell (made at start, so the first such login is no slower). */
  private readonly dummyHash: Promise<string>;
  private readonly hasher: PasswordHasher;

  constructor(private readonly d: AccountDeps) {
    this.hasher = new PasswordHasher(d.scryptCost, {
      overloaded: () => new DomainError('unavailable', 'Too many sign-ins at once; retry shortly.', { retryAfter: 1000 }),
      tooMany: () => rateLimited(1000, 'Too many sign-ins at once from here; retry shortly.'),
      maxPerKey: d.limits.enabled ? HASHING_SHARE : Infinity,
    });
    this.dummyHash = hashPassword('not a real password', d.scryptCost);
    this.dummyHash.catch(() => undefined);
  }

  async view(u: UserRecord): Promise<User> {
    return userView(u, await this.d.presence.onlineAmong([u.id]));
  }

  /**
   * Users as `viewerId` may see them: whether someone is online and when
   * they were last seen is shown only to those who share a conversation
   * with them (as `presence` events are), and to themselves.
   */
  private async views(viewerId: string, users: readonly UserRecord[]): Promise<User[]> {
    const [online, contacts] = await Promise.all([this.d.presence.onlineAmong(users.map((u) => u.id)), this.d.store.contactsOf(viewerId)]);
    const known = new Set([...contacts, viewerId]);
    return users.map((u) => (known.has(u.id) ? userView(u, online) : { ...userView(u, NOBODY), lastSeenAt: null }));
  }

  /** `address`: the client's (request.ip), for the per-address limits and the hashing share. */
  async register(body: RegisterBody, address?: string): Promise<AuthResponse> {
    await this.d.limits.takeAddress('register-address', address);
    // Cheap check first, so a taken name costs no hashing; the unique index decides.
    if (await this.d.store.userByUsername(body.username)) throw usernameTaken();
    const passwordHash = await this.hasher.hash(hashingKey(address, body.username), body.password);
    let user: UserRecord;
    try {
      user = await this.d.store.createUser({
        username: body.username,
        displayName: body.displayName?.trim() || body.username,
        passwordHash,
        createdAt: this.d.now(),
      });
    } catch (e) {
      if (e instanceof UniqueViolation) throw usernameTaken();
      throw e;
    }
    return this.signIn(user);
  }

  /**
   * Every attempt spends a token of the username's bucket (whether the
   * account exists or not, so the answer tells nothing) and a success
   * gives it back: only failures count, whoever sends them. An unknown
   * username is verified against a dummy hash, so timing tells nothing
   * either.
   */
  async login(body: LoginBody, address?: string): Promise<AuthResponse> {
    await this.d.limits.takeAddress('login-address', address);
    const key = hashingKey(address, body.username);
    const user = await this.d.store.userByUsername(body.username);
    // An unknown name is checked against the dummy hash: the same answer, the same time.
    const right = await this.guess(body.username, async () => this.hasher.verify(key, body.password, user?.passwordHash ?? (await this.dummyHash)));
    if (!user || !right) throw badCredentials();
    return this.signIn(user, user.passwordHash);
  }

  /**
   * A password check that counts as a failed login of `username` unless it
   * succeeds: its token is taken first (so concurrent guesses cannot pass
   * the limit) and given back when the password is right, or when the
   * check was refused without being made (the hasher was full).
   */
  private async guess(username: string, check: () => Promise<boolean>): Promise<boolean> {
    const account = username.normalize('NFC').toLowerCase();
    await this.d.limits.take('login-account', account);
    let right = false;
    try {
      right = await check();
      return right;
    } catch (e) {
      right = true; // not a guess: nothing was checked
      throw e;
    } finally {
      if (right) await this.d.limits.giveBack('login-account', account);
    }
  }

  /**
   * A new session and its token: every sign-in has its own. `verifiedHash`:
   * the password hash the login was checked against. A password change that
   * committed while the check ran (it takes tens of ms) revoked every
   * session but its own, not this one, made after: so the hash is read again
   * once the session exists, and if it changed the session is revoked and
   * the login fails. A change committed after that read revokes this session
   * itself. Either way an old password never outlives its change.
   */
  private async signIn(user: UserRecord, verifiedHash?: string): Promise<AuthResponse> {
    const now = this.d.now();
    const sessionId = await this.d.store.createSession({ userId: user.id, createdAt: now, expiresAt: now + this.d.tokens.ttlMs });
    if (verifiedHash !== undefined && (await this.d.store.userById(user.id))?.passwordHash !== verifiedHash) {
      await this.d.store.revokeSession(sessionId, this.d.now());
      throw badCredentials();
    }
    return { user: await this.view(user), token: this.d.tokens.issue(user.id, sessionId) };
  }

  /**
   * The user and session a bearer token stands for, and when the token
   * expires (epoch ms); null for a bad or expired token, or a revoked session.
   */
  async authenticate(token: unknown): Promise<{ user: UserRecord; sessionId: string; expiresAt: number } | null> {
    const verified = this.d.tokens.verifyToken(token);
    if (!verified) return null;
    const user = await this.d.store.sessionUser(verified.sessionId);
    return user && user.id === verified.userId ? { user, sessionId: verified.sessionId, expiresAt: verified.expiresAt } : null;
  }

  /** Whether the session is still the user's and not revoked. */
  async sessionLive(sessionId: string, userId: string): Promise<boolean> {
    return (await this.d.store.sessionUser(sessionId))?.id === userId;
  }

  /** Revokes the session: its token is refused from now on and its sockets are disconnected, on every node. */
  async logout(sessionId: string): Promise<void> {
    await this.d.store.revokeSession(sessionId, this.d.now());
    this.d.events.disconnectSessions([sessionId]);
  }

  /** A new password; every other session of the user is revoked (the caller's stays). */
  async changePassword(userId: string, sessionId: string, body: ChangePasswordBody): Promise<void> {
    const user = await this.d.store.userById(userId);
    if (!user) throw notFound('No such user.');
    // A wrong current password is a failed login of the account: a stolen token guesses no faster than a stranger.
    if (!(await this.guess(user.username, () => this.hasher.verify(`user:${userId}`, body.currentPassword, user.passwordHash)))) {
      throw forbidden('The current password is not right.');
    }
    const hash = await this.hasher.hash(`user:${userId}`, body.newPassword);
    const revoked = await this.d.store.changePassword(userId, hash, sessionId, this.d.now());
    this.d.events.disconnectSessions(revoked);
  }

  async me(userId: string): Promise<User> {
    const u = await this.d.store.userById(userId);
    if (!u) throw notFound('No such user.');
    return this.view(u);
  }

  async updateDisplayName(userId: string, displayName: string): Promise<User> {
    const u = await this.d.store.updateDisplayName(userId, displayName.trim());
    if (!u) throw notFound('No such user.');
    return this.view(u);
  }

  async search(viewerId: string, q: string | undefined, limit: number): Promise<User[]> {
    const prefix = (q ?? '').trim();
    const users = await this.d.store.searchUsers(prefix, limit);
    return this.views(viewerId, users);
  }
}

/** Places one address (or, from this machine, one username) may hold in the password hasher. */
const HASHING_SHARE = 4;

/** Whom a hash is for: the client's address, or the username for clients on this machine. */
const hashingKey = (address: string | undefined, username: string) =>
  isLoopback(address) ? `name:${username.toLowerCase()}` : `ip:${addressKey(address as string)}`;

/** Nobody online: the presence shown to a stranger. */
const NOBODY: ReadonlySet<string> = new Set();

const usernameTaken = () => new DomainError('conflict', 'That username is taken.');
const badCredentials = () => new DomainError('unauthorized', 'Wrong username or password.');
