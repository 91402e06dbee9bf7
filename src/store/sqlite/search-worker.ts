/**
 * The search indexer's thread (see search-index.ts), and the main database's
 * checkpointer: the writer runs with wal_autocheckpoint=0 so that copying the
 * WAL back into the database never stalls the event loop; this thread does it.
 *
 * A WAL starts over only when a write transaction begins while every frame
 * of it has been copied back; under a steady stream of commits that moment
 * never comes and the file grows without bound. So when the WAL passes
 * `walRestartFrames`, this thread asks the main thread to hold its writes
 * ('pause-writes'); once told 'writes-paused', it copies the last frames (a
 * few milliseconds' worth: the periodic checkpoints did the rest) and says
 * 'resume-writes'. The next commit then rewinds the WAL. Sends wait meanwhile;
 * the event loop does not.
 *
 * Messages from the main thread: 'wake' (something was committed: index it
 * within `delayMs`, so that a trickle of messages makes a few transactions,
 * not one each), 'now' (someone waits for the index: start at once), 'close'.
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
  /** After a 'wake', index within this many ms (what arrives meanwhile joins the step). */
  delayMs: number;
  /** Ask for a pause of writes to rewind the WAL once it holds this many frames. */
  walRestartFrames: number;
}

export type SearchWorkerReply = { marks: IndexMarks } | { error: string } | 'closed' | 'pause-writes' | 'resume-writes';
export type SearchWorkerRequest = 'wake' | 'now' | 'close' | 'writes-paused';

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
let scheduled: 'soon' | 'delayed' | null = null;
let delayed: NodeJS.Timeout | undefined;
let pauseAsked = false;

function checkpoint(): void {
  lastCheckpoint = Date.now();
  const [wal] = main.pragma('wal_checkpoint(PASSIVE)') as { log: number; checkpointed: number }[];
  if (!pauseAsked && wal && wal.log >= data.walRestartFrames) {
    pauseAsked = true;
    port.postMessage('pause-writes' satisfies SearchWorkerReply);
  }
}

/** Writes are held: copy the remaining frames, so that the next commit rewinds the WAL. */
function checkpointPaused(): void {
  pauseAsked = false;
  try {
    lastCheckpoint = Date.now();
    main.pragma('wal_checkpoint(PASSIVE)');
  } finally {
    port.postMessage('resume-writes' satisfies SearchWorkerReply);
  }
}

function work(): void {
  scheduled = null;
  clearTimeout(delayed);
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
  clearTimeout(delayed);
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

port.on('message', (m: SearchWorkerRequest) => {
  if (closing) return;
  if (m === 'writes-paused') {
    try {
      checkpointPaused();
    } catch (e) {
      port.postMessage({ error: e instanceof Error ? e.message : String(e) } satisfies SearchWorkerReply);
    }
    return;
  }
  if (m === 'close') {
    work(); // everything committed so far is indexed before the files close
    if (!closing) shutdown(0);
    return;
  }
  // Wakes coalesce: one pass takes in everything committed before it.
  if (m === 'now' && scheduled !== 'soon') {
    clearTimeout(delayed);
    scheduled = 'soon';
    setImmediate(work);
  } else if (m === 'wake' && scheduled === null) {
    scheduled = 'delayed';
    delayed = setTimeout(work, data.delayMs);
  }
});
