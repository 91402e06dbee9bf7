/**
 * The connection pool and the one way the PostgreSQL store runs a
 * transaction: BEGIN, the body, COMMIT, with transient failures retried when
 * that is safe (nothing of the transaction can have been applied).
 */
import pg from 'pg';
import { StoreUnavailable } from '../store.js';

/** bigint (int8) and numeric counts as JavaScript numbers: every key and time here is below 2^53. */
const types = {
  getTypeParser(oid: number, format?: string) {
    if (oid === pg.types.builtins.INT8) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

export interface PoolOptions {
  connectionString: string;
  /** Most connections this node opens. */
  max: number;
  /** Told of connection errors on idle clients (they are replaced). */
  onError: (err: Error) => void;
}

export function createPool(o: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: o.connectionString,
    max: o.max,
    types,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    // A statement never runs forever: a stuck query answers `internal` instead of hanging a send.
    statement_timeout: 30_000,
    application_name: 'parley',
  });
  pool.on('error', o.onError);
  return pool;
}

const TRANSIENT_STATES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
]);
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTCONN']);

/** A failure that may pass if the same transaction is tried again. */
export function isTransient(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null;
  if (!e) return false;
  if (e.code && (TRANSIENT_STATES.has(e.code) || e.code.startsWith('08') || TRANSIENT_CODES.has(e.code))) return true;
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
    e.message ?? '',
  );
}

/** COMMIT was sent and its answer was lost: the transaction may or may not have been applied. */
export class CommitUnknown extends Error {
  constructor(
    override readonly cause: unknown,
    /** What the body answered, had the commit succeeded. */
    readonly result: unknown,
  ) {
    super(`the database connection failed during COMMIT: ${(cause as Error)?.message ?? String(cause)}`);
  }
}

export interface TxOptions {
  /** Tries in all for transient failures before COMMIT (default 4). */
  attempts?: number;
}

/**
 * Runs `body` in a transaction (READ COMMITTED: every statement sees what was
 * committed before it; row locks order the writers). A transient failure
 * before COMMIT rolls back and runs `body` again, so `body` must keep no
 * state of its own between tries. A failure of COMMIT itself throws
 * CommitUnknown: the caller decides (see PostgresStore.appendMessages).
 * Transient failures that last past the tries end as StoreUnavailable
 * (nothing was applied).
 */
export async function transaction<T>(pool: pg.Pool, body: (c: pg.PoolClient) => Promise<T>, opts: TxOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 4;
  for (let attempt = 1; ; attempt++) {
    let client: pg.PoolClient | undefined;
    let broken: unknown;
    // A connection the server cuts while it is checked out emits 'error'
    // (besides failing the statement in flight): without a listener that
    // would be an uncaught exception. The statement's failure is what counts.
    const onError = (err: Error) => {
      broken ??= err;
    };
    try {
      client = await pool.connect();
      client.on('error', onError);
      await client.query('BEGIN');
      const result = await body(client);
      try {
        await client.query('COMMIT');
      } catch (err) {
        broken = err;
        if (isTransient(err) && !(err as { code?: string }).code?.startsWith('40')) throw new CommitUnknown(err, result);
        throw err;
      }
      return result;
    } catch (err) {
      if (client && broken === undefined) {
        // A failed statement leaves the transaction aborted: end it (or drop a dead connection).
        await client.query('ROLLBACK').catch((e: unknown) => (broken = e));
      }
      if (err instanceof CommitUnknown) throw err;
      if (!isTransient(err)) throw err;
      if (attempt >= attempts) throw new StoreUnavailable(err);
      client?.off('error', onError);
      client?.release(broken ? (broken as Error) : undefined);
      client = undefined;
      await new Promise((r) => setTimeout(r, 10 * 2 ** attempt + Math.random() * 20));
    } finally {
      client?.off('error', onError);
      client?.release(broken ? (broken as Error) : undefined);
    }
  }
}

/**
 * A statement outside any transaction (a read, or a write that is one
 * statement and may be repeated): tried again on a transient failure, then
 * StoreUnavailable.
 */
export async function query<R extends pg.QueryResultRow>(pool: pg.Pool, sql: string, params: unknown[], attempts = 3): Promise<pg.QueryResult<R>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await pool.query<R>(sql, params);
    } catch (err) {
      if (!isTransient(err)) throw err;
      if (attempt >= attempts) throw new StoreUnavailable(err);
      await new Promise((r) => setTimeout(r, 10 * 2 ** attempt + Math.random() * 20));
    }
  }
}
