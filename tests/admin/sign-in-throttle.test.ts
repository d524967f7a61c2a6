import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { POST as login } from '../../app/api/auth/login/route';
import { FREE_FAILURES } from '@/lib/auth/throttle';
import { createUser } from '@/lib/auth/users';
import { connections } from '@/lib/db/client';
import { useAppDatabase } from '../helpers/app-env';

const db = useAppDatabase({ SESSION_SECRET: 'z'.repeat(40), NODE_ENV: 'test' });

const signIn = (email: string, password: string, headers: Record<string, string> = {}) =>
  login(
    new Request('http://localhost/api/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ email, password }),
    }),
  );

const sessions = async () => (await db.current.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM user_sessions')).rows[0]!.n;

beforeAll(async () => {
  await createUser(connections().pool, { email: 'target@example.com', password: 'the-right-password', role: 'ADMIN' });
});
beforeEach(async () => {
  await db.current.pool.query('TRUNCATE sign_in_throttle, user_sessions');
  delete process.env.TRUST_PROXY;
});

describe('sign-in throttling', () => {
  it(`after ${FREE_FAILURES} failures an account is refused with 429 and Retry-After, even with the right password`, async () => {
    for (let i = 0; i <= FREE_FAILURES; i++) expect((await signIn('target@example.com', `wrong-${i}`)).status).toBe(401);
    const refused = await signIn('target@example.com', 'the-right-password');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await refused.json()).toEqual({ error: expect.stringMatching(/^Too many failed sign-ins: try again in \d+ s$/) });
    expect(await sessions()).toBe(0); // nothing written by the refused request
  });

  it('holds for guesses sent all at once: no more than the free ones reach the password', async () => {
    const statuses = (await Promise.all(Array.from({ length: 20 }, (_, i) => signIn('target@example.com', `burst-${i}`)))).map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(FREE_FAILURES + 1);
    expect(statuses.filter((s) => s === 429)).toHaveLength(20 - FREE_FAILURES - 1);
  });

  it('successful sign-ins from one address behind a proxy never add up to a block', async () => {
    process.env.TRUST_PROXY = '1';
    const office = { 'x-forwarded-for': '192.0.2.10' };
    for (let i = 0; i < FREE_FAILURES * 3; i++) expect((await signIn('target@example.com', 'the-right-password', office)).status).toBe(200);
  });

  it('answers an account that does not exist exactly as one that does', async () => {
    const answers: number[][] = [[], []];
    for (const [k, email] of ['target@example.com', 'nobody@example.com'].entries()) {
      for (let i = 0; i <= FREE_FAILURES + 1; i++) answers[k]!.push((await signIn(email, `wrong-${i}`)).status);
    }
    expect(answers[0]).toEqual(answers[1]);
    expect(answers[0]!.at(-1)).toBe(429);
  });

  it('the block doubles with each further failure, ends on its own, and a success clears the count', async () => {
    for (let i = 0; i <= FREE_FAILURES + 2; i++) {
      await db.current.pool.query('UPDATE sign_in_throttle SET blocked_until = NULL'); // let each attempt through
      await signIn('target@example.com', `wrong-${i}`);
    }
    const { rows } = await db.current.pool.query<{ failures: number; seconds: number }>(
      `SELECT failures, round(extract(epoch FROM blocked_until - last_failure_at))::int AS seconds FROM sign_in_throttle`,
    );
    expect(rows).toEqual([{ failures: FREE_FAILURES + 3, seconds: 4 }]); // 1, 2, then 4 s
    await db.current.pool.query(`UPDATE sign_in_throttle SET blocked_until = now() - interval '1 second'`);
    expect((await signIn('target@example.com', 'the-right-password')).status).toBe(200);
    expect((await db.current.pool.query('SELECT count(*)::int AS n FROM sign_in_throttle')).rows[0].n).toBe(0);
  });

  it('counts failures per client address behind a trusted proxy, across accounts', async () => {
    process.env.TRUST_PROXY = '1';
    const from = { 'x-forwarded-for': '203.0.113.7, 10.0.0.1' };
    for (let i = 0; i <= FREE_FAILURES; i++) await signIn(`guess-${i}@example.com`, 'wrong-password', from);
    expect((await signIn('target@example.com', 'the-right-password', from)).status).toBe(429);
    expect((await signIn('target@example.com', 'the-right-password', { 'x-forwarded-for': '198.51.100.1' })).status).toBe(200);
    // Without TRUST_PROXY the header is anyone's to write: it is not used.
    delete process.env.TRUST_PROXY;
    expect((await signIn('target@example.com', 'the-right-password', from)).status).toBe(200);
  });
});
