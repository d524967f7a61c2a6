/**
 * Per-file test databases. `useTestDatabase()` in a test file gives it a fresh clone of the
 * migrated template, dropped when the file ends.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { withDatabase } from '../setup/template-db';

export interface TestDatabase {
  url: string;
  name: string;
  pool: pg.Pool;
}

export async function createTestDatabase(): Promise<TestDatabase & { drop(): Promise<void> }> {
  const adminUrl = inject('adminUrl');
  const name = `conveyor_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${inject('templateDb')}`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(adminUrl, name);
  const pool = new pg.Pool({ connectionString: url, max: 5 });
  pool.on('error', () => {});
  return {
    url,
    name,
    pool,
    async drop() {
      await pool.end();
      const dropper = new pg.Client({ connectionString: adminUrl });
      await dropper.connect();
      try {
        await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await dropper.end();
      }
    },
  };
}

/** Registers beforeAll/afterAll hooks; read `.current` inside tests. */
export function useTestDatabase(): { current: TestDatabase } {
  const holder = {} as { current: TestDatabase };
  let drop: () => Promise<void> = async () => {};
  beforeAll(async () => {
    const db = await createTestDatabase();
    holder.current = db;
    drop = db.drop;
  });
  afterAll(async () => drop());
  return holder;
}
