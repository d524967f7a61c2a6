import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../../packages/pg-conveyor/test/helpers/db';

const db = useTestDatabase();
const root = path.resolve(import.meta.dirname, '../..');

function createUser(args: string[], stdin: string, env: Record<string, string> = {}) {
  const result = spawnSync(path.join(root, 'node_modules/.bin/tsx'), ['scripts/create-user.ts', ...args], {
    cwd: root,
    input: stdin,
    encoding: 'utf8',
    env: { ...process.env, DATABASE_URL: db.current.url, CONVEYOR_PASSWORD: '', ...env },
  });
  return { code: result.status, out: `${result.stdout}${result.stderr}` };
}

const userRow = async (email: string) => (await db.current.pool.query<{ role: string }>('SELECT role FROM users WHERE email = $1', [email])).rows[0];

describe('npm run user:create', () => {
  it('refuses a password on the command line, writing nothing', async () => {
    const run = createUser(['--email', 'argv@example.com', '--password', 'long-enough-password'], '');
    expect(run.code).toBe(2);
    expect(run.out).toMatch(/--password is not accepted/);
    expect(await userRow('argv@example.com')).toBeUndefined();
  });

  it('reads the password from standard input and makes a VIEWER unless asked for more', async () => {
    const viewer = createUser(['--email', 'viewer@example.com'], 'a-long-enough-password\n');
    expect(viewer.code).toBe(0);
    expect(viewer.out).toMatch(/viewer@example.com \(VIEWER\) is ready/);
    expect(await userRow('viewer@example.com')).toEqual({ role: 'VIEWER' });
    const admin = createUser(['--email', 'admin2@example.com', '--role', 'ADMIN'], 'another-long-password\n');
    expect(admin.code).toBe(0);
    expect(await userRow('admin2@example.com')).toEqual({ role: 'ADMIN' });
  });

  it('a short password from stdin: exit 2 with the reason', async () => {
    const run = createUser(['--email', 'short@example.com'], 'short\n');
    expect(run.code).toBe(2);
    expect(run.out).toMatch(/password/i);
    expect(await userRow('short@example.com')).toBeUndefined();
  });
});
