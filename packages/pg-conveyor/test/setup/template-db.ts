/**
 * A migrated template database, made once per set of migrations. Each test file clones it
 * (CREATE DATABASE ... TEMPLATE), which takes milliseconds and isolates files from each other.
 * The library's tests use a template of the queue's migrations only; the demo app's tests one of
 * the queue's and the app's (tests/setup/template-db.ts).
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { migrate, queueMigrations } from 'pg-conveyor';

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export interface TemplateSpec {
  /** Names the template (`<prefix>_<hash of the migrations>`); a stale one of the same prefix is dropped. */
  prefix: string;
  /** Each migration's name and checksum: a change makes a new template. */
  migrations: { name: string; checksum: string }[];
  /** Applies the migrations to the database at `url`. */
  migrate(url: string): Promise<unknown>;
}

export async function ensureTemplateDatabase(adminUrl: string, spec: TemplateSpec): Promise<string> {
  const hash = createHash('sha256')
    .update(spec.migrations.map((m) => `${m.name}:${m.checksum}`).join('\n'))
    .digest('hex');
  const name = `${spec.prefix}_${hash.slice(0, 12)}`;
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
      await spec.migrate(withDatabase(adminUrl, building));
      await admin.query(`ALTER DATABASE ${building} RENAME TO ${name}`);
      const stale = await admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1 AND datname <> $2`, [
        `${spec.prefix.replaceAll('_', '\\_')}\\_%`,
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

/** The library's template: the queue's own migrations, nothing of any app. */
export const queueTemplate: TemplateSpec = {
  prefix: 'conveyor_queue_template',
  migrations: queueMigrations(),
  migrate: (url) => migrate({ connectionString: url, log: () => {} }),
};
