#!/usr/bin/env node
// The `conveyor` command: compiled JavaScript, run by Node alone.
import { runCli } from './cli.js';

try {
  process.exitCode = await runCli(process.argv.slice(2));
} catch (error) {
  // 42P01 / 42703: a table or column is missing: the database is behind the code.
  const code = (error as { code?: string } | null)?.code;
  const behind = code === '42P01' || code === '42703' ? " (the database is not migrated: apply the queue's migrations)" : '';
  console.error(`conveyor: ${error instanceof Error ? error.message : String(error)}${behind}`);
  process.exitCode = 1;
}
