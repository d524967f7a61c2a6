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
    include: ['tests/**/*.test.ts'],
    exclude: ['node_modules/**'],
    globalSetup: ['tests/setup/global-setup.ts'],
    // Each test file gets its own database cloned from a migrated template, so files run in parallel.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
