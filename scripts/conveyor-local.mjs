#!/usr/bin/env node
/**
 * `npm run conveyor -- <command>`: the package's `conveyor` CLI against this project's database
 * (DATABASE_URL, else the embedded one, started if need be). The CLI itself never starts a
 * database; this wrapper is the repository's convenience.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { resolveDatabaseUrl } from './db/local-postgres.mjs';

const root = path.resolve(import.meta.dirname, '..');
const bin = path.join(root, 'node_modules', 'pg-conveyor', 'dist', 'adapters', 'bin.js');
const result = spawnSync(process.execPath, [bin, ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, DATABASE_URL: await resolveDatabaseUrl() },
});
process.exitCode = result.status ?? 1;
