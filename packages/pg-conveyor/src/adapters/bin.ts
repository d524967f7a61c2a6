#!/usr/bin/env node
// The `conveyor` command: compiled JavaScript, run by Node alone.
import { runCli } from './cli.js';
import { explainDatabaseError } from '../core/database-check.js';

try {
  process.exitCode = await runCli(process.argv.slice(2));
} catch (error) {
  // A refused connection, a bad password, missing tables: said with what to do about it.
  const explained = explainDatabaseError(error, process.env.DATABASE_URL);
  console.error(`conveyor: ${explained instanceof Error ? explained.message : String(explained)}`);
  process.exitCode = 1;
}
