import { defineConfig } from 'vitest/config';

/**
 * Two projects: every test on the default store (SQLite), and the transport
 * and client tests again on PostgreSQL + Redis (each server a node of a
 * cluster: test/helpers/server.ts, PARLEY_TEST_STORE).
 */
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // One throwaway PostgreSQL and Redis for each project (test/helpers/services.ts).
    globalSetup: ['./test/global-setup.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      { extends: true, test: { name: 'sqlite', include: ['src/**/*.test.ts', 'test/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'postgres',
          include: ['test/transport/**/*.test.ts', 'test/client/**/*.test.ts', 'test/notify/**/*.test.ts'],
          env: { PARLEY_TEST_STORE: 'postgres' },
        },
      },
    ],
  },
});
