/**
 * Sign-in throttling, held in Postgres (sign_in_throttle) so every serverless instance shares it.
 * Failures are counted per account (the email as typed, whether or not the account exists, so the
 * answer never tells) and per client address. After FREE_FAILURES, a key is blocked for 1 s,
 * then 2, 4, ... up to 15 min, doubling with each further failure; the count starts over after an
 * hour without one. A blocked sign-in is refused (429, Retry-After) before the password is
 * checked, so guessing stops and no scrypt run is spent on it.
 *
 * The client address is the first X-Forwarded-For entry, trusted only with TRUST_PROXY=1 (a proxy
 * such as Vercel's that sets the header itself); otherwise any client could name any address, and
 * only the per-account count applies.
 */
import type pg from 'pg';

export const FREE_FAILURES = 5;
const MAX_BLOCK_SECONDS = 900;

export function throttleKeys(email: string, request: Request, env: Record<string, string | undefined> = process.env): string[] {
  const keys = [`account:${email.trim().toLowerCase().slice(0, 254)}`];
  const address = env.TRUST_PROXY === '1' ? request.headers.get('x-forwarded-for')?.split(',')[0]?.trim() : undefined;
  if (address) keys.push(`address:${address.slice(0, 100)}`);
  return keys;
}

/** Seconds until the longest block on these keys ends; 0 when none is blocked. */
export async function blockedForSeconds(pool: pg.Pool, keys: string[]): Promise<number> {
  const { rows } = await pool.query<{ seconds: number | null }>(
    `SELECT ceil(extract(epoch FROM max(blocked_until) - now()))::int AS seconds
       FROM sign_in_throttle WHERE key = ANY($1::text[]) AND blocked_until > now()`,
    [keys],
  );
  return rows[0]?.seconds ?? 0;
}

/** Counts a failure on each key, and blocks those past FREE_FAILURES. */
export async function recordFailure(pool: pg.Pool, keys: string[]): Promise<void> {
  const failures = `CASE WHEN t.last_failure_at < now() - interval '1 hour' THEN 1 ELSE t.failures + 1 END`;
  await pool.query(
    `INSERT INTO sign_in_throttle AS t (key, failures, last_failure_at)
     SELECT key, 1, now() FROM unnest($1::text[]) AS key
     ON CONFLICT (key) DO UPDATE SET
       failures = ${failures},
       last_failure_at = now(),
       blocked_until = CASE WHEN ${failures} > $2
                            THEN now() + least(power(2, ${failures} - $2 - 1), ${MAX_BLOCK_SECONDS}) * interval '1 second' END`,
    [keys, FREE_FAILURES],
  );
}

/** A successful sign-in clears its account's count (not its address's). */
export async function clearAccount(pool: pg.Pool, keys: string[]): Promise<void> {
  await pool.query(`DELETE FROM sign_in_throttle WHERE key = ANY($1::text[]) AND key LIKE 'account:%'`, [keys]);
}
