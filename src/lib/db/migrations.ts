/**
 * Migrates the app's database: first the queue's own schema (pg-conveyor's migrations, recorded
 * in conveyor_migrations), then prisma/migrations/<stamp>_<name>/migration.sql in order, keeping
 * Prisma's `_prisma_migrations` bookkeeping (same table, same sha256 checksum of the file) so
 * `prisma migrate deploy` and this runner can take turns on one database.
 *
 * Two processes migrating at once (several app instances booting) serialize on an advisory lock;
 * the second finds the work done. Each migration runs in its own transaction with its record.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { migrate as migrateQueue, type QueueMigrateResult } from 'pg-conveyor';

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrateResult {
  /** What pg-conveyor's own migrations did first. */
  queue?: QueueMigrateResult;
  applied: string[];
  alreadyApplied: string[];
  /** Applied migrations whose file changed since (Prisma warns about these too). */
  modified: string[];
}

// Any fixed 64-bit key; hashtext() would be fine too but a constant is greppable.
const MIGRATION_LOCK_KEY = 7_320_114_092_118_331n;

const CREATE_BOOKKEEPING_TABLE = `
  CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                  VARCHAR(36)  PRIMARY KEY NOT NULL,
    "checksum"            VARCHAR(64)  NOT NULL,
    "finished_at"         TIMESTAMPTZ,
    "migration_name"      VARCHAR(255) NOT NULL,
    "logs"                TEXT,
    "rolled_back_at"      TIMESTAMPTZ,
    "started_at"          TIMESTAMPTZ  NOT NULL DEFAULT now(),
    "applied_steps_count" INTEGER      NOT NULL DEFAULT 0
  )`;

export const DEFAULT_MIGRATIONS_DIR = path.resolve(import.meta.dirname ?? '.', '../../../prisma/migrations');

export async function readMigrations(dir = DEFAULT_MIGRATIONS_DIR): Promise<Migration[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries
    .filter((e) => e.isDirectory() && /^\d{14}_\w+$/.test(e.name))
    .map((e) => e.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(path.join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    }),
  );
}

/**
 * The app's migrations once made the queue's tables and the app's together. They were replaced by
 * one migration of the app's tables alone (`by`), and kept in prisma/replaced-migrations for the
 * databases they migrated: one that had some of them is first brought to the last of them, then
 * the queue's first migration and `by` are recorded as applied there, never run.
 */
export const REPLACED_HISTORY = {
  by: '20261128100000_app_tables',
  dir: path.resolve(import.meta.dirname ?? '.', '../../../prisma/replaced-migrations'),
} as const;

export async function migrate(options: { connectionString: string; dir?: string; log?: (line: string) => void }): Promise<MigrateResult> {
  const log = options.log ?? (() => {});
  const migrations = await readMigrations(options.dir);
  const client = new pg.Client({ connectionString: options.connectionString });
  // A lost connection fails the statement in flight; without a listener it would also be an uncaught exception.
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
    await client.query(CREATE_BOOKKEEPING_TABLE);
    const { rows } = await client.query<{ migration_name: string; checksum: string; finished_at: Date | null; rolled_back_at: Date | null }>(
      `SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations"`,
    );
    const failed = rows.find((r) => r.finished_at === null && r.rolled_back_at === null);
    if (failed) {
      throw new Error(
        `Migration ${failed.migration_name} started but did not finish. Fix the database by hand, then delete its row ` +
          `from _prisma_migrations (or run 'prisma migrate resolve') before migrating again.`,
      );
    }
    const done = new Map(rows.filter((r) => r.finished_at !== null).map((r) => [r.migration_name, r.checksum]));
    const replaced = options.dir === undefined ? await readMigrations(REPLACED_HISTORY.dir) : [];
    const predatesSplit = replaced.some((m) => done.has(m.name)) && !done.has(REPLACED_HISTORY.by);
    if (predatesSplit) {
      for (const migration of replaced.filter((m) => !done.has(m.name))) {
        await applyOne(client, migration);
        log(`applied ${migration.name} (replaced history, to bring this database to its end)`);
      }
    }
    // The queue's own schema, before the app's tables (which may refer to it).
    const queue = await migrateQueue({ connectionString: options.connectionString, log: (line) => log(`pg-conveyor: ${line}`) });
    const result: MigrateResult = { queue, applied: [], alreadyApplied: [], modified: [] };
    const replacement = migrations.find((m) => m.name === REPLACED_HISTORY.by);
    if (predatesSplit && replacement) {
      await record(client, replacement);
      done.set(replacement.name, replacement.checksum);
      log(`recorded ${replacement.name} as applied: it replaces migrations this database already had`);
    }
    for (const migration of migrations) {
      const recorded = done.get(migration.name);
      if (recorded !== undefined) {
        result.alreadyApplied.push(migration.name);
        if (recorded !== migration.checksum) result.modified.push(migration.name);
        continue;
      }
      await applyOne(client, migration);
      log(`applied ${migration.name}`);
      result.applied.push(migration.name);
    }
    for (const name of result.modified) log(`warning: ${name} was modified after it was applied`);
    return result;
  } finally {
    await client.query('SELECT pg_advisory_unlock_all()').catch(() => {});
    await client.end();
  }
}

async function applyOne(client: pg.Client, migration: Migration): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(migration.sql);
    await record(client, migration);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw new Error(`Migration ${migration.name} failed: ${(error as Error).message}`, { cause: error });
  }
}

async function record(client: pg.Client, migration: Migration): Promise<void> {
  await client.query(
    `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
     VALUES ($1, $2, $3, now(), clock_timestamp(), 1)`,
    [randomUUID(), migration.checksum, migration.name],
  );
}
