import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { migrate, readMigrations, DEFAULT_MIGRATIONS_DIR } from '@/lib/db/migrations';
import { withDatabase } from '../setup/template-db';

const adminUrl = () => inject('adminUrl');
const name = `conveyor_mig_${process.pid}_${Date.now() % 100000}`;
let url: string;

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: adminUrl() });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  url = withDatabase(adminUrl(), name);
});
afterAll(async () => {
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
});

describe('migration runner', () => {
  it('two runners at once: each migration applied exactly once, with Prisma’s bookkeeping', async () => {
    const results = await Promise.all([migrate({ connectionString: url }), migrate({ connectionString: url })]);
    const migrations = await readMigrations();
    expect(migrations.length).toBeGreaterThan(0);
    expect(results.map((r) => r.applied.length).sort()).toEqual([0, migrations.length]);

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query(
        'SELECT migration_name, checksum, finished_at, applied_steps_count, rolled_back_at FROM _prisma_migrations ORDER BY migration_name',
      );
      expect(rows).toHaveLength(migrations.length);
      for (const [i, m] of migrations.entries()) {
        const sql = await readFile(path.join(DEFAULT_MIGRATIONS_DIR, m.name, 'migration.sql'));
        expect(rows[i]).toMatchObject({
          migration_name: m.name,
          checksum: createHash('sha256').update(sql).digest('hex'),
          applied_steps_count: 1,
          rolled_back_at: null,
        });
        expect(rows[i].finished_at).toBeInstanceOf(Date);
      }
      const { rows: tables } = await client.query("SELECT to_regclass('job_queue') IS NOT NULL AS present");
      expect(tables[0].present).toBe(true);
    } finally {
      await client.end();
    }
    const again = await migrate({ connectionString: url });
    expect(again).toMatchObject({ applied: [], modified: [] });
  });

  it('a failing migration rolls back and leaves no record', async () => {
    const dir = await mkdtemp('/tmp/conveyor-mig-');
    await mkdir(path.join(dir, '20990101000000_broken'));
    await writeFile(path.join(dir, '20990101000000_broken', 'migration.sql'), 'CREATE TABLE half_done (id int); SELECT 1/0;');
    await expect(migrate({ connectionString: url, dir })).rejects.toThrow(/20990101000000_broken failed: division by zero/);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query(
        "SELECT to_regclass('half_done') IS NULL AS absent, (SELECT count(*)::int FROM _prisma_migrations WHERE migration_name = '20990101000000_broken') AS recorded",
      );
      expect(rows[0]).toEqual({ absent: true, recorded: 0 });
    } finally {
      await client.end();
    }
  });
});
