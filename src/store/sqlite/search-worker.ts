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
 * To the main thread: { marks } after each step (the main thread posts the
 * next 'wake' only after one, if more was committed), { error } on failure,
 * 'closed' when done.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { IndexStep, openSearchDatabase, readMarks, sourceState, type IndexMarks } from './search-index.js';

export interface SearchWorkerData {
  dbFile: string;
  searchFile: string;
  /** Run a PASSIVE checkpoint of the main database when this many ms passed since the last. */
  checkpointEveryMs: number;
  /** After a 'wake', index within this many ms (what arrives meanwhile joins the step). */
  delayMs: number;
  /** Ask for a pause of writes to rewind the WAL once it holds this many frames. */
  walRestartFrames: number;
  /** At close, index what is left for at most this long (the next start resumes from the marks). */
  closeBudgetMs: number;
}

export type SearchWorkerReply = { marks: IndexMarks } | { error: string } | 'closed' | 'pause-writes' | 'resume-writes';
export type SearchWorkerRequest = 'wake' | 'now' | 'close' | 'writes-paused';

const data = workerData as SearchWorkerData;
const port = parentPort!;

const main = new Database(data.dbFile, { fileMustExist: true });
main.pragma('busy_timeout = 5000');
main.pragma('synchronous = FULL');
const index = openSearchDatabase(data.searchFile, sourceState(main));
const step = new IndexStep(main, index);
let marks = readMarks(index)!;
port.postMessage({ marks } satisfies SearchWorkerReply);

let lastCheckpoint = Date.now();
let closing = false;
let scheduled: 'soon' | 'delayed' | null = null;
let delayed: NodeJS.Timeout | undefined;
let pauseAsked = false;

const describe = (e: unknown): string => {
  const err = e as { stack?: string; message?: string; code?: string } | null;
  return String(err?.stack ?? err?.message ?? err?.code ?? e);
};

/**
 * A PASSIVE checkpoint; when the WAL has grown past its bound and this
 * thread is idle (so that it answers at once), asks for a hold of writes.
 */
function checkpoint(mayAskForPause: boolean): void {
  lastCheckpoint = Date.now();
  const [wal] = main.pragma('wal_checkpoint(PASSIVE)') as { log: number; checkpointed: number }[];
  if (mayAskForPause && !pauseAsked && wal && wal.log >= data.walRestartFrames) {
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

/** One step of indexing; schedules the next while there is more, one per turn so that messages get through. */
function work(): void {
  if (closing) return;
  scheduled = null;
  clearTimeout(delayed);
  try {
    const more = runStep();
    // With nothing more to do, this thread answers a hold at once: it may ask for one.
    if (Date.now() - lastCheckpoint >= data.checkpointEveryMs) checkpoint(!more);
    if (more) {
      scheduled = 'soon';
      setImmediate(work);
    }
  } catch (e) {
    port.postMessage({ error: describe(e) } satisfies SearchWorkerReply);
    // The main thread restarts the worker; exit with everything closed.
    shutdown(1);
  }
}

/** Reports after every step, even one that found nothing: the main thread wakes this thread again from a report. */
function runStep(): boolean {
  const r = step.run(marks);
  marks = r.marks;
  port.postMessage({ marks } satisfies SearchWorkerReply);
  return r.more;
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
      checkpoint(scheduled !== 'soon');
    } catch (e) {
      port.postMessage({ error: describe(e) } satisfies SearchWorkerReply);
    }
  }
}, data.checkpointEveryMs);

port.on('message', (m: SearchWorkerRequest) => {
  if (closing) return;
  if (m === 'writes-paused') {
    try {
      checkpointPaused();
    } catch (e) {
      port.postMessage({ error: describe(e) } satisfies SearchWorkerReply);
    }
    return;
  }
  if (m === 'close') {
    // What was committed is indexed before the files close, within a budget.
    const until = Date.now() + data.closeBudgetMs;
    try {
      while (runStep() && Date.now() < until);
    } catch (e) {
      port.postMessage({ error: describe(e) } satisfies SearchWorkerReply);
    }
    shutdown(0);
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
