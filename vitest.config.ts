import { defineConfig } from 'vitest/config';

// Tiers by file suffix: `.test.ts` unit, `.int.test.ts` real Redis/broker, `test/e2e/**` whole
// system, `test/chaos/**` faults and soak, `test/cluster/**` a Redis Cluster, `test/browser/**` Chromium (README, "Tests").
const unitExclude = ['**/*.int.test.ts', 'test/{e2e,browser,chaos,cluster}/**/!(*.unit).test.ts', '**/node_modules/**'];

// Workspace packages are tested from their TypeScript sources, never from a stale dist/ (see tsconfig.base.json).
const SOURCE_CONDITION = '@shop/source';

export default defineConfig({
  // Vitest's own server conditions plus ours; it also hands them to its test processes as --conditions.
  ssr: { resolve: { conditions: [SOURCE_CONDITION, 'node', 'development|production'] } },
  test: {
    pool: 'forks',
    // ioredis's late reply on a sharded subscriber connection it has already stopped after a cluster failover:
    // the services log it and go on (service-kit/src/stale-subscriber-errors.ts), and so do the tests.
    onUnhandledError: (error) => (/^Command queue state error\b/.test(error.message ?? '') ? false : undefined),
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          // `*.unit.test.ts` marks pure tests that sit beside a tier's harness (e.g. chaos invariants).
          include: ['**/src/**/*.test.ts', '**/test/**/*.test.ts', '**/*.unit.test.ts'],
          exclude: unitExclude,
        },
      },
      {
        extends: true,
        test: {
          name: 'int',
          include: ['**/*.int.test.ts'],
          exclude: ['test/**', '**/node_modules/**'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'chaos',
          include: ['test/chaos/**/*.test.ts'],
          exclude: ['**/*.unit.test.ts'],
          testTimeout: 900_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'cluster',
          include: ['test/cluster/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 240_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
