/**
 * The schema the migrations produce, against the checked-in snapshot (prisma/schema.snapshot.sql,
 * pg_dump --schema-only): a migration cannot change the database unnoticed, and a change to the
 * schema is reviewed as a diff of that file. After an intended change:
 *   UPDATE_SCHEMA_SNAPSHOT=1 npx vitest run tests/db/schema-snapshot.test.ts
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { binDir } from '../../scripts/db/scratch-cluster';
import { useTestDatabase } from '../../packages/pg-conveyor/test/helpers/db';

const db = useTestDatabase();
const snapshotFile = path.resolve(import.meta.dirname, '../../prisma/schema.snapshot.sql');

/** pg_dump's text without what differs between runs and servers: comments, SET lines, restrict keys. */
function normalized(dump: string): string {
  return (
    dump
      .split('\n')
      .filter((line) => !line.startsWith('--') && !/^SET |^SELECT pg_catalog\.set_config|^\\(un)?restrict /.test(line))
      .join('\n')
      .replace(/\n{3,}/g, '\n\n')
      .trim() + '\n'
  );
}

describe('database schema', () => {
  it('is what the checked-in snapshot says', () => {
    const dump = execFileSync(
      path.join(binDir(), 'pg_dump'),
      ['--schema-only', '--no-owner', '--no-privileges', '--exclude-table=_prisma_migrations', db.current.url],
      { encoding: 'utf8' },
    );
    const schema = normalized(dump);
    if (process.env.UPDATE_SCHEMA_SNAPSHOT === '1') writeFileSync(snapshotFile, schema);
    expect(existsSync(snapshotFile), 'prisma/schema.snapshot.sql is missing: run with UPDATE_SCHEMA_SNAPSHOT=1').toBe(true);
    expect(schema).toBe(readFileSync(snapshotFile, 'utf8'));
  });
});
