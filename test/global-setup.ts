import type { TestProject } from 'vitest/node';
import { findPostgresBin, findRedisServer, INSTALL_HINT, startPostgres, startRedis, type ThrowawayServer } from './helpers/services.js';

/**
 * One PostgreSQL and one Redis for the whole run, their URLs provided to the
 * tests (`postgresOrSkip()`, `redisOrSkip()`). PARLEY_TEST_DATABASE_URL (a
 * superuser URL: tests create databases) and PARLEY_TEST_REDIS_URL point at
 * existing servers instead. A missing server skips the tests that need it,
 * except with CI=true, where it fails the run.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const services = [
    { name: 'PostgreSQL', key: 'postgresUrl', env: 'PARLEY_TEST_DATABASE_URL', found: findPostgresBin, start: startPostgres },
    { name: 'Redis', key: 'redisUrl', env: 'PARLEY_TEST_REDIS_URL', found: findRedisServer, start: startRedis },
  ] as const;
  const started: ThrowawayServer[] = [];
  const stopAll = async () => {
    await Promise.all(started.map((s) => s.stop()));
  };
  const results = await Promise.allSettled(
    services.map(async (svc) => {
      const given = process.env[svc.env];
      if (given) return project.provide(svc.key, given);
      if (!svc.found()) {
        const why = `${svc.name} is not installed (${INSTALL_HINT}; or set ${svc.env})`;
        if (process.env.CI === 'true') throw new Error(`${why}: .ci/run must install it`);
        console.warn(`skipping tests that need ${svc.name}: ${why}`);
        return;
      }
      const server = await svc.start();
      started.push(server);
      project.provide(svc.key, server.url);
    }),
  );
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) {
    await stopAll();
    throw failed.reason;
  }
  return stopAll;
}
