/**
 * The search indexer's thread (see search-index.ts), and the main database's
 * checkpointer: the writer runs with wal_autocheckpoint=0 so that copying the
 * WAL back into the database never stalls the event loop; this thread does it.
 *
 * Messages from the main thread: 'wake' (something was committed), 'close'.
 * To the main thread: { marks } after each step, { error } on failure,
 * 'closed' when done.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { IndexStep, openSearchDatabase, readMarks, type IndexMarks } from './search-index.js';

export interface SearchWorkerData {
  dbFile: string;
  searchFile: string;
  /** Run a PASSIVE checkpoint of the main database when this many ms passed since the last. */
  checkpointEveryMs: number;
}

export type SearchWorkerReply = { marks: IndexMarks } | { error: string } | 'closed';

const data = workerData as SearchWorkerData;
const port = parentPort!;

const main = new Database(data.dbFile, { fileMustExist: true });
main.pragma('busy_timeout = 5000');
main.pragma('synchronous = FULL');
const maxMessageId = (main.prepare('SELECT coalesce(max(id), 0) AS n FROM messages').get() as { n: number }).n;
const maxOutboxId = (main.prepare("SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'search_outbox'), 0) AS n").get() as { n: number }).n;
const index = openSearchDatabase(data.searchFile, { maxMessageId, maxOutboxId });
const step = new IndexStep(main, index);
let marks = readMarks(index)!;
port.postMessage({ marks } satisfies SearchWorkerReply);

let lastCheckpoint = Date.now();
let closing = false;
let scheduled = false;

function checkpoint(): void {
  lastCheckpoint = Date.now();
  main.pragma('wal_checkpoint(PASSIVE)');
}

function work(): void {
  scheduled = false;
  try {
    for (;;) {
      const r = step.run(marks);
      if (r.marks !== marks) {
        marks = r.marks;
        port.postMessage({ marks } satisfies SearchWorkerReply);
      }
      if (Date.now() - lastCheckpoint >= data.checkpointEveryMs) checkpoint();
      if (!r.more) break;
    }
  } catch (e) {
    port.postMessage({ error: e instanceof Error ? e.stack ?? e.message : String(e) } satisfies SearchWorkerReply);
    // The main thread restarts the worker; exit with everything closed.
    shutdown(1);
  }
}

function shutdown(code: number): void {
  closing = true;
  clearInterval(timer);
  if (index.open) index.close();
  if (main.open) main.close();
  if (code === 0) port.postMessage('closed' satisfies SearchWorkerReply);
  port.close();
  process.exitCode = code;
}

// A checkpoint also when idle after writes, so the WAL does not wait for the next burst.
const timer = setInterval(() => {
  if (!closing && Date.now() - lastCheckpoint >= data.checkpointEveryMs) {
    try {
      checkpoint();
    } catch (e) {
      port.postMessage({ error: e instanceof Error ? e.message : String(e) } satisfies SearchWorkerReply);
    }
  }
}, data.checkpointEveryMs);

port.on('message', (m: 'wake' | 'close') => {
  if (closing) return;
  if (m === 'close') {
    work(); // everything committed so far is indexed before the files close
    if (!closing) shutdown(0);
    return;
  }
  // Wakes that arrive while a step runs coalesce into one more pass.
  if (!scheduled) {
    scheduled = true;
    setImmediate(work);
  }
});
