import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { authenticateApiKey } from '@/lib/auth/api-keys';
import { useTestDatabase } from '../../packages/pg-conveyor/test/helpers/db';

const db = useTestDatabase();
const root = path.resolve(import.meta.dirname, '../..');

function apiKey(...args: string[]) {
  const result = spawnSync(path.join(root, 'node_modules/.bin/tsx'), ['scripts/api-key.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, DATABASE_URL: db.current.url },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('npm run api-key', () => {
  it('creates a key (the project only when asked), lists it without the secret, and revokes it', async () => {
    const missing = apiKey('create', '--project', 'cli-made');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no project named "cli-made" \(add --create-project/);
    expect((await db.current.pool.query(`SELECT count(*)::int AS n FROM projects WHERE name = 'cli-made'`)).rows[0].n).toBe(0);

    const made = apiKey('create', '--project', 'cli-made', '--create-project', '--name', 'nightly import', '--records-per-day', '500');
    expect(made.code).toBe(0);
    const key = made.stdout.trim();
    expect(key).toMatch(/^cvk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(made.stderr).toMatch(/shown this once/);
    const principal = await authenticateApiKey(db.current.pool, key);
    expect(principal).toMatchObject({ projectName: 'cli-made', limits: { recordsPerDay: 500, requestsPerMinute: 120 } });

    const listed = apiKey('list');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(`${key.slice(0, 16)}  cli-made  nightly import`);
    expect(listed.stdout).not.toContain(key.slice(17));

    expect(apiKey('revoke', key.slice(0, 16)).stdout).toMatch(/revoked cvk_/);
    expect(await authenticateApiKey(db.current.pool, key)).toBeNull();
    expect(apiKey('revoke', key.slice(0, 16)).code).toBe(2);
  });

  it('bad arguments: exit 2 with the reason, nothing written', async () => {
    const count = async () => (await db.current.pool.query('SELECT (SELECT count(*) FROM api_keys) + (SELECT count(*) FROM projects) AS n')).rows[0].n;
    const before = await count();
    expect(apiKey('create', '--project', 'x', '--create-project', '--requests-per-minute', 'lots').stderr).toMatch(
      /--requests-per-minute must be a whole number/,
    );
    expect(apiKey('create', '--project', 'x', '--create-project', '--requests-per-minute', '0').stderr).toMatch(/requestsPerMinute/);
    expect(apiKey('frobnicate').code).toBe(2);
    expect(await count()).toBe(before);
    expect(apiKey('create-project', 'dup').code).toBe(0);
    expect(apiKey('create-project', 'dup').stderr).toMatch(/already exists/);
  });
});
