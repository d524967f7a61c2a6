/**
 * pg-conveyor's own migrations: applied alone on an empty database, printed as SQL for a user's
 * own tool (and then recognised), and the hand-over from the app migrations that used to make the
 * queue's tables.
 */
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { ConfigError, migrate as migrateQueue, migrationSql, queueMigrations } from 'pg-conveyor';
import { migrate, readMigrations, REPLACED_HISTORY } from '@/lib/db/migrations';
import { withDatabase } from './setup/template-db';

const adminUrl = () => inject('adminUrl');
const made: string[] = [];

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rows of whatever shape the test reads
async function query<T = any>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

async function emptyDatabase(): Promise<string> {
  const name = `conveyor_qmig_${process.pid}_${made.length}_${Date.now() % 100000}`;
  await query(adminUrl(), `CREATE DATABASE ${name}`);
  made.push(name);
  return withDatabase(adminUrl(), name);
}

afterAll(async () => {
  for (const name of made) await query(adminUrl(), `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
});

const tables = async (url: string) =>
  (await query<{ t: string }>(url, `SELECT string_agg(tablename, ',' ORDER BY tablename) AS t FROM pg_tables WHERE schemaname = 'public'`))[0]!.t;

const ALL = queueMigrations().map((m) => m.name);

describe("pg-conveyor's migrations", () => {
  it('are numbered files in order, the first making the tables', () => {
    expect(ALL[0]).toBe('0001_queue');
    expect(ALL).toContain('0002_trace_context');
    expect([...ALL].sort()).toEqual(ALL);
  });

  it("make the queue's tables alone, in a database with nothing else; concurrent runs apply once", async () => {
    const url = await emptyDatabase();
    const results = await Promise.all([migrateQueue({ connectionString: url }), migrateQueue({ connectionString: url })]);
    expect(results.map((r) => r.applied).sort()).toEqual([[], ALL]);
    expect(await tables(url)).toBe(
      'conveyor_migrations,drain_slots,job_bulk_actions,job_counts_minute,job_counts_rollup,job_queue,job_schedules,job_type_handlers,job_type_limits,job_type_pauses,workflow_map_items,workflow_runs,workflow_steps',
    );
    expect(await migrateQueue({ connectionString: url })).toEqual({ applied: [], alreadyApplied: ALL, adopted: [] });
    const rows = await query(url, 'SELECT name, checksum FROM conveyor_migrations ORDER BY name');
    expect(rows).toEqual(queueMigrations().map(({ name, checksum }) => ({ name, checksum })));
  });

  it('--print-sql gives SQL a user applies with their own tool; migrate then finds nothing to do', async () => {
    const url = await emptyDatabase();
    const sql = migrationSql();
    expect(sql).toMatch(/CREATE TABLE "job_queue"/);
    await query(url, sql);
    expect(await migrateQueue({ connectionString: url })).toEqual({ applied: [], alreadyApplied: ALL, adopted: [] });
    const later = migrationSql({ after: '0001_queue' });
    expect(later).not.toMatch(/CREATE TABLE "job_queue"/);
    expect(later).toMatch(/ADD COLUMN "trace_context"/);
    expect(() => migrationSql({ after: 'nope' })).toThrow(ConfigError);
  });

  it('refuses a job_queue it did not make, writing nothing', async () => {
    const url = await emptyDatabase();
    await query(url, 'CREATE TABLE job_queue (id int)');
    await expect(migrateQueue({ connectionString: url })).rejects.toThrow(/job_queue table exists that pg-conveyor did not make/);
    expect(await query(url, 'SELECT count(*)::int AS n FROM conveyor_migrations')).toEqual([{ n: 0 }]);
  });

  it('a database the old combined app migrations took part way: brought to their end, then both new histories recorded, the schema as a fresh one', async () => {
    const fresh = await emptyDatabase();
    await migrate({ connectionString: fresh });
    const old = await emptyDatabase();
    // What the old runner did, for the first seven of the nine replaced migrations.
    const replaced = await readMigrations(REPLACED_HISTORY.dir);
    expect(replaced).toHaveLength(9);
    await query(
      old,
      `CREATE TABLE "_prisma_migrations" (id VARCHAR(36) PRIMARY KEY, checksum VARCHAR(64) NOT NULL, finished_at TIMESTAMPTZ,
      migration_name VARCHAR(255) NOT NULL, logs TEXT, rolled_back_at TIMESTAMPTZ, started_at TIMESTAMPTZ NOT NULL DEFAULT now(), applied_steps_count INTEGER NOT NULL DEFAULT 0)`,
    );
    for (const m of replaced.slice(0, 7)) {
      await query(old, m.sql);
      await query(
        old,
        `INSERT INTO _prisma_migrations (id, checksum, migration_name, finished_at, applied_steps_count) VALUES (gen_random_uuid()::text, $1, $2, now(), 1)`,
        [m.checksum, m.name],
      );
    }
    await query(old, `INSERT INTO job_queue (job_type) VALUES ('KEPT')`);

    const appAfter = (await readMigrations()).map((m) => m.name).filter((name) => name > REPLACED_HISTORY.by);
    expect(appAfter.length).toBeGreaterThan(0);
    const lines: string[] = [];
    const result = await migrate({ connectionString: old, log: (line) => lines.push(line) });
    expect(lines).toEqual([
      `applied ${replaced[7]!.name} (replaced history, to bring this database to its end)`,
      `applied ${replaced[8]!.name} (replaced history, to bring this database to its end)`,
      'pg-conveyor: recorded 0001_queue as applied: this database already has its tables',
      ...ALL.slice(1).map((name) => `pg-conveyor: applied ${name}`),
      `recorded ${REPLACED_HISTORY.by} as applied: it replaces migrations this database already had`,
      ...appAfter.map((name) => `applied ${name}`),
    ]);
    expect(result.queue).toEqual({ applied: ALL.slice(1), alreadyApplied: [], adopted: ['0001_queue'] });
    expect(result.applied).toEqual(appAfter); // the app's migrations made after the replacement
    const schema = (url: string) =>
      query(
        url,
        `SELECT c.relname, c.relkind, pg_get_indexdef(c.oid) AS indexdef,
              (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), ''), ', ' ORDER BY a.attname)
                 FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
              (SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid), ', ' ORDER BY conname) FROM pg_constraint WHERE conrelid = c.oid) AS constraints,
              c.reloptions::text AS options
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i') ORDER BY c.relname`,
      );
    expect(await schema(old)).toEqual(await schema(fresh));
    expect(await query(old, `SELECT job_type FROM job_queue`)).toEqual([{ job_type: 'KEPT' }]);
    expect((await migrate({ connectionString: old })).applied).toEqual([]);
  });
});
