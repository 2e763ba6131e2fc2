import { defineConfig } from 'vitest/config';

// Tiers by file suffix (see STYLE.md §11): `.test.ts` unit, `.int.test.ts` real Redis/broker,
// `test/e2e/**` whole system, `test/chaos/**` faults and soak, `test/browser/**` Chromium.
const unitExclude = ['**/*.int.test.ts', 'test/{e2e,browser,chaos,cluster}/**/!(*.unit).test.ts', '**/node_modules/**'];

export default defineConfig({
  test: {
    pool: 'forks',
    projects: [
      {
        test: {
          name: 'unit',
          // `*.unit.test.ts` marks pure tests that sit beside a tier's harness (e.g. chaos invariants).
          include: ['**/src/**/*.test.ts', '**/test/**/*.test.ts', 'test/**/*.unit.test.ts'],
          exclude: unitExclude,
        },
      },
      {
        test: {
          name: 'int',
          include: ['**/*.int.test.ts'],
          exclude: ['test/**', '**/node_modules/**'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
      {
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
