/** Secure defaults that are not a route of their own: the session secret fails closed; env files stay out of git. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { POST as login } from '../../app/api/auth/login/route';
import { createUser } from '@/lib/auth/users';
import { connections } from '@/lib/db/client';
import { useAppDatabase } from '../helpers/app-env';

const env = process.env as Record<string, string | undefined>;
const db = useAppDatabase({ NODE_ENV: 'test', SESSION_SECRET: undefined });
const root = path.resolve(import.meta.dirname, '../..');

describe('SESSION_SECRET in production', () => {
  it.each([
    ['unset', undefined],
    ['31 characters', 'x'.repeat(31)],
  ])('%s: sign-in answers 500, sets no cookie and starts no session', async (_name, secret) => {
    await createUser(connections().pool, { email: 'prod@example.com', password: 'production-password', role: 'ADMIN' });
    env.NODE_ENV = 'production';
    if (secret === undefined) delete env.SESSION_SECRET;
    else env.SESSION_SECRET = secret;
    try {
      const response = await login(
        new Request('http://localhost/api/auth/login', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: 'prod@example.com', password: 'production-password' }),
        }),
      );
      expect(response.status).toBe(500);
      expect(response.headers.get('set-cookie')).toBeNull();
      expect((await db.current.pool.query('SELECT count(*)::int AS n FROM user_sessions')).rows[0].n).toBe(0);
      expect((await db.current.pool.query('SELECT count(*)::int AS n FROM sign_in_throttle')).rows[0].n).toBe(0);
    } finally {
      env.NODE_ENV = 'test';
      delete env.SESSION_SECRET;
    }
  });
});

describe('.env files', () => {
  it('are ignored by git, except the example', () => {
    const ignored = (file: string) => spawnSync('git', ['check-ignore', '-q', '--no-index', file], { cwd: root }).status === 0;
    for (const file of ['.env', '.env.local', '.env.production', '.env.development.local']) expect(ignored(file), file).toBe(true);
    expect(ignored('.env.example')).toBe(false);
  });
});
