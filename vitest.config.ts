import path from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { alias: { '@': path.resolve(import.meta.dirname, 'src') } },
  test: {
    include: ['tests/**/*.test.ts'],
    // The full chaos tier (npm run test:chaos) restarts servers and runs for minutes: not in npm test.
    exclude: ['node_modules/**', ...(process.env.CHAOS === 'full' ? [] : ['tests/chaos-full/**'])],
    globalSetup: ['tests/setup/global-setup.ts'],
    // Each test file gets its own database cloned from a migrated template, so files run in parallel.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
