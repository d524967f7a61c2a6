import path from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    alias: [
      { find: '@', replacement: path.resolve(import.meta.dirname, 'src') },
      // Tests run the library from its sources (the app and scripts outside tests use the built
      // package, as a user would), so one copy of each class is loaded in a test process.
      { find: /^pg-conveyor$/, replacement: path.resolve(import.meta.dirname, 'packages/pg-conveyor/src/index.ts') },
      { find: /^pg-conveyor\/(worker|subprocess)$/, replacement: path.resolve(import.meta.dirname, 'packages/pg-conveyor/src/runtime/$1.ts') },
      { find: /^pg-conveyor\/next$/, replacement: path.resolve(import.meta.dirname, 'packages/pg-conveyor/src/adapters/next.ts') },
      { find: /^pg-conveyor\/(testing|workflows|console)$/, replacement: path.resolve(import.meta.dirname, 'packages/pg-conveyor/src/$1/index.ts') },
    ],
  },
  test: {
    // Each test file gets its own database cloned from a migrated template, so files run in parallel.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 120_000,
    projects: [
      // The library's own tests, on a template of the queue's migrations only.
      {
        extends: true,
        test: { name: 'pg-conveyor', include: ['packages/pg-conveyor/test/**/*.test.ts'], globalSetup: ['packages/pg-conveyor/test/setup/global-setup.ts'] },
      },
      // The demo app's tests (and the chaos tier), on a template of the queue's and the app's migrations.
      { extends: true, test: { name: 'app', include: ['tests/**/*.test.ts'], globalSetup: ['tests/setup/global-setup.ts'] } },
    ],
  },
});
