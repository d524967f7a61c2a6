/**
 * The queue's own schema: the package's migrations/NNNN_name.sql, applied in order, each in a
 * transaction with its record in conveyor_migrations (name, SHA-256 of the file), under an
 * advisory lock so app instances booting at once migrate once. Applying again is a no-op.
 *
 * Users who keep their own migration tool (Prisma, Drizzle, plain SQL) take migrationSql()
 * (`npx conveyor migrate --print-sql`) into a migration of theirs: it records itself in
 * conveyor_migrations too, so `conveyor migrate` and the user's tool can take turns.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import pg from 'pg';
import { ConfigError } from '../core/errors.js';
import { ignoreConnectionLoss } from './executor.js';

export interface QueueMigration {
  name: string;
  sql: string;
  checksum: string;
}

export interface QueueMigrateResult {
  applied: string[];
  alreadyApplied: string[];
  /** Recorded without running: the database already had what they make (see adoptExisting). */
  adopted: string[];
}

// Found at call time beside this file's folder (src/ or dist/), written so that bundlers which
// treat `new URL(literal, import.meta.url)` as an asset to pack leave it alone.
const migrationsDir = () => path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'migrations');
// Any fixed 64-bit key, distinct from an app's own migration lock.
const LOCK_KEY = '5118403227906170011';

const BOOKKEEPING = `CREATE TABLE IF NOT EXISTS "conveyor_migrations" (
    "name"       TEXT        NOT NULL PRIMARY KEY,
    "checksum"   TEXT        NOT NULL,
    "applied_at" TIMESTAMPTZ NOT NULL DEFAULT now()
)`;

export function queueMigrations(): QueueMigration[] {
  const dir = migrationsDir();
  return readdirSync(dir)
    .filter((file) => /^\d{4}_\w+\.sql$/.test(file))
    .sort()
    .map((file) => {
      const sql = readFileSync(path.join(dir, file), 'utf8');
      return { name: file.replace(/\.sql$/, ''), sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

const record = (m: QueueMigration) => `INSERT INTO "conveyor_migrations" ("name", "checksum") VALUES ('${m.name}', '${m.checksum}') ON CONFLICT DO NOTHING;`;

/** The SQL of the migrations after `after` (all by default), each followed by its own record. */
export function migrationSql(options: { after?: string } = {}): string {
  const all = queueMigrations();
  const start = options.after === undefined ? 0 : all.findIndex((m) => m.name === options.after) + 1;
  if (options.after !== undefined && start === 0) throw new ConfigError(`No pg-conveyor migration named ${options.after}`);
  const parts = all.slice(start).map((m) => `-- pg-conveyor migration ${m.name}\n${m.sql.trim()}\n${record(m)}`);
  return [`-- pg-conveyor's schema (conveyor migrate --print-sql)\n${BOOKKEEPING};`, ...parts].join('\n\n') + '\n';
}

/** Applies the migrations this database has not had yet. */
export async function migrate(options: { connectionString?: string; pool?: pg.Pool; log?: (line: string) => void }): Promise<QueueMigrateResult> {
  const log = options.log ?? (() => {});
  const migrations = queueMigrations();
  let client: pg.Client | pg.PoolClient;
  if (options.pool) client = await options.pool.connect();
  else {
    if (!options.connectionString) throw new ConfigError('migrate needs a connectionString (or a pool)');
    client = new pg.Client({ connectionString: options.connectionString });
    await client.connect();
  }
  client.on('error', ignoreConnectionLoss);
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    await client.query(BOOKKEEPING);
    const result: QueueMigrateResult = { applied: [], alreadyApplied: [], adopted: [] };
    let done = new Map(
      (await client.query<{ name: string; checksum: string }>('SELECT name, checksum FROM conveyor_migrations')).rows.map((r) => [r.name, r.checksum]),
    );
    if (done.size === 0) {
      result.adopted = await adoptExisting(client, migrations[0]!);
      for (const name of result.adopted) log(`recorded ${name} as applied: this database already has its tables`);
      done = new Map(migrations.filter((m) => result.adopted.includes(m.name)).map((m) => [m.name, m.checksum]));
    }
    for (const migration of migrations) {
      const recorded = done.get(migration.name);
      if (recorded !== undefined) {
        if (recorded !== migration.checksum) {
          throw new ConfigError(
            `pg-conveyor migration ${migration.name} differs from the one this database applied: reinstall the package version that made it`,
          );
        }
        if (!result.adopted.includes(migration.name)) result.alreadyApplied.push(migration.name);
        continue;
      }
      await client.query('BEGIN');
      try {
        // A connection of the queue's own pool bounds statements (DEFAULTS.statementTimeoutMs); a
        // migration, an index build over a big table, must not be cut short by that.
        await client.query('SET LOCAL statement_timeout = 0');
        await client.query(migration.sql);
        await client.query(record(migration));
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw new ConfigError(`pg-conveyor migration ${migration.name} failed: ${(error as Error).message}`);
      }
      log(`applied ${migration.name}`);
      result.applied.push(migration.name);
    }
    return result;
  } finally {
    await client.query('SELECT pg_advisory_unlock_all()').catch(() => {});
    client.off('error', ignoreConnectionLoss);
    if ('release' in client) client.release();
    else await client.end();
  }
}

/**
 * Before the queue had migrations of its own, the Conveyor app's migrations made its tables. Such a
 * database has job_queue but no record here: when its tables are what the first migration makes
 * (the last change those migrations made was the lease index keyed on locked_until), the first
 * migration is recorded as applied; any other job_queue is refused rather than guessed at.
 */
async function adoptExisting(client: pg.Client | pg.PoolClient, first: QueueMigration): Promise<string[]> {
  const { rows } = await client.query<{ has_queue: boolean; current: boolean }>(
    `SELECT to_regclass('job_queue') IS NOT NULL AS has_queue,
            to_regclass('job_schedules') IS NOT NULL
              AND EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'job_queue_lease_idx' AND indexdef LIKE '%WHERE (locked_until IS NOT NULL)%')
              AND EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'job_queue' AND column_name = 'unique_key') AS current`,
  );
  const { has_queue: hasQueue, current } = rows[0]!;
  if (!hasQueue) return [];
  if (!current) {
    throw new ConfigError(
      'A job_queue table exists that pg-conveyor did not make and that is not in the shape its first migration makes; migrate it by hand or use another schema',
    );
  }
  await client.query(record(first));
  return [first.name];
}
