#!/usr/bin/env node
// `npx conveyor ...`: runs the TypeScript CLI through tsx (a dependency of this project).
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/cli/conveyor.ts');
try {
  process.exitCode = await runCli(process.argv.slice(2));
} catch (error) {
  // 42P01 / 42703: a table or column is missing: the database is behind the code.
  const behind = ['42P01', '42703'].includes(error?.code) ? ' (the database is not migrated: run npm run db:migrate)' : '';
  console.error(`conveyor: ${error instanceof Error ? error.message : error}${behind}`);
  process.exitCode = 1;
}
