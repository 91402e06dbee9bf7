/**
 * A search reader thread (one of the pool in reader-pool.ts): its own
 * read-only connection to the main database with the index attached, on
 * which it runs one search at a time (search-plan.ts), so that no search
 * ever runs on the event loop. Readers never write: in WAL mode they do not
 * hold up the writer nor the indexer, and each reads a consistent snapshot.
 *
 * Messages: in `{ id, request }`, out `{ id, result }` or `{ id, error }`;
 * 'ready' once the connection is open; 'close' closes it and ends the thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { SearchPlanner, type SearchAnswer, type SearchRequest } from './search-plan.js';
import type { PoolReply, PoolRequest } from './reader-pool.js';

export interface SearchReaderData {
  dbFile: string;
  searchFile: string;
  /** Page cache of each database, KiB. */
  cacheKiB: number;
}

const data = workerData as SearchReaderData;
const port = parentPort!;

const db = new Database(data.dbFile, { readonly: true, fileMustExist: true });
db.pragma('busy_timeout = 5000');
db.prepare('ATTACH DATABASE ? AS search').run(data.searchFile);
db.pragma(`main.cache_size = -${data.cacheKiB}`);
db.pragma(`search.cache_size = -${data.cacheKiB}`);
const planner = new SearchPlanner(db);
port.postMessage('ready' satisfies PoolReply<SearchAnswer>);

port.on('message', (m: PoolRequest<SearchRequest>) => {
  if (m === 'close') {
    planner.close();
    db.close();
    port.close();
    return;
  }
  let reply: PoolReply<SearchAnswer>;
  try {
    reply = { id: m.id, result: planner.answer(m.request) };
  } catch (e) {
    const err = e as { stack?: string; message?: string } | null;
    reply = { id: m.id, error: String(err?.stack ?? err?.message ?? e) };
  }
  port.postMessage(reply);
});
