/** Load-generator worker threads written in TypeScript, and their request/answer exchange. */
import { Worker } from 'node:worker_threads';

/** Starts `file` (a URL beside the caller, e.g. `new URL('./worker.ts', import.meta.url)`) in a thread, through tsx's loader registered in the thread itself. */
export function startTsWorker(file: URL, workerData: unknown): Worker {
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(file.href)}); })`;
  return new Worker(boot, { eval: true, workerData });
}

/** Posts `command` (if any) and resolves with the worker's next message; rejects if the worker fails first. */
export function askWorker<R>(w: Worker, command?: unknown): Promise<R> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    w.once('error', onError);
    w.once('message', (r: R) => {
      w.off('error', onError);
      resolve(r);
    });
    if (command !== undefined) w.postMessage(command);
  });
}
