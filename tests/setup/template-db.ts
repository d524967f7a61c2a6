/**
 * A migrated template database, made once per set of migrations. Each test file clones it
 * (CREATE DATABASE ... TEMPLATE), which takes milliseconds and isolates files from each other.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { migrate, readMigrations } from '../../src/lib/db/migrations';
import { queueMigrations } from '../../packages/pg-conveyor/src/sql/migrate';

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function ensureTemplateDatabase(adminUrl: string): Promise<string> {
  const migrations = await readMigrations();
  const all = [...queueMigrations(), ...migrations];
  const hash = createHash('sha256')
    .update(all.map((m) => `${m.name}:${m.checksum}`).join('\n'))
    .digest('hex');
  const name = `conveyor_template_${hash.slice(0, 12)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    // Several `vitest` runs may start at once; one builds the template, the others wait for it.
    await admin.query('SELECT pg_advisory_lock(424242)');
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) {
      const building = `${name}_building`;
      await admin.query(`DROP DATABASE IF EXISTS ${building}`);
      await admin.query(`CREATE DATABASE ${building}`);
      await migrate({ connectionString: withDatabase(adminUrl, building) });
      await admin.query(`ALTER DATABASE ${building} RENAME TO ${name}`);
      const stale = await admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'conveyor\\_template\\_%' AND datname <> $1`, [
        name,
      ]);
      for (const { datname } of stale.rows) await admin.query(`DROP DATABASE IF EXISTS ${datname}`).catch(() => {});
    }
    return name;
  } finally {
    await admin.query('SELECT pg_advisory_unlock_all()');
    await admin.end();
  }
}
