import { Worker } from 'node:worker_threads';

/**
 * Starts a worker thread on a module given by its URL: the compiled `.js`
 * file, or under tsx or Vitest (TypeScript sources, a `.ts` URL) through
 * tsx's loader, registered in the worker itself.
 */
export function startWorker(module: URL, workerData: unknown): Worker {
  if (!module.pathname.endsWith('.ts')) return new Worker(module, { workerData });
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(module.href)}); })`;
  return new Worker(boot, { eval: true, workerData });
}

/** A module beside the calling one (`import.meta.url`), by its name without extension: `.ts` when running from sources. */
export function siblingModule(base: string, name: string): URL {
  return new URL(`./${name}${base.endsWith('.ts') ? '.ts' : '.js'}`, base);
}
