import type { ParleyClient } from '../../src/client/index.js';

/** Resolves when `done()` holds, checked at every change of the client library's state (10 s at most by default). */
export function clientUntil(client: ParleyClient, done: () => boolean, what = 'condition', timeoutMs = 10_000): Promise<void> {
  if (done()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${what}`));
    }, timeoutMs);
    const off = client.subscribe(() => {
      if (!done()) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}
