/**
 * Sign-in throttling, held in Postgres (sign_in_throttle) so every serverless instance shares it.
 * Failures are counted per account (the email as typed, whether or not the account exists, so the
 * answer never tells) and per client address. After FREE_FAILURES, a key is blocked for 1 s,
 * then 2, 4, ... up to 15 min, doubling with each further failure; the count starts over after an
 * hour without one. A blocked sign-in is refused (429, Retry-After) before the password is
 * checked, so guessing stops and no scrypt run is spent on it (takeAttempt).
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

/**
 * Takes one sign-in attempt on these keys, in one statement: a key that is blocked now refuses it
 * (and is left as it is); the others count it as a failure up front, blocking past FREE_FAILURES,
 * and a successful sign-in gives it back (attemptSucceeded). Counting before the password check
 * is what makes the limit hold for guesses sent all at once: each takes its turn on the key's
 * row, so no more than FREE_FAILURES + 1 of them ever reach the password. Returns the seconds to
 * wait when refused, else 0.
 */
export async function takeAttempt(pool: pg.Pool, keys: string[]): Promise<number> {
  const blocked = `t.blocked_until > now()`;
  const failures = `CASE WHEN t.last_failure_at < now() - interval '1 hour' THEN 1 ELSE t.failures + 1 END`;
  const { rows } = await pool.query<{ seconds: number | null }>(
    `WITH taken AS (
       INSERT INTO sign_in_throttle AS t (key, failures, last_failure_at)
       SELECT key, 1, now() FROM unnest($1::text[]) AS key
       ON CONFLICT (key) DO UPDATE SET
         failures = CASE WHEN ${blocked} THEN t.failures ELSE ${failures} END,
         last_failure_at = CASE WHEN ${blocked} THEN t.last_failure_at ELSE now() END,
         blocked_until = CASE WHEN ${blocked} THEN t.blocked_until
                              WHEN ${failures} > $2
                              THEN now() + least(power(2, ${failures} - $2 - 1), ${MAX_BLOCK_SECONDS}) * interval '1 second' END
       RETURNING blocked_until, last_failure_at = now() AS counted
     )
     SELECT ceil(extract(epoch FROM max(blocked_until) - now()))::int AS seconds FROM taken WHERE NOT counted`,
    [keys, FREE_FAILURES],
  );
  return rows[0]?.seconds ?? 0;
}

/**
 * A successful sign-in: its account's count is cleared, and its address gives back the attempt
 * it took (an office behind one proxy address signs in all day without being blocked).
 */
export async function attemptSucceeded(pool: pg.Pool, keys: string[]): Promise<void> {
  await pool.query(
    `WITH cleared AS (DELETE FROM sign_in_throttle WHERE key = ANY($1::text[]) AND key LIKE 'account:%')
     UPDATE sign_in_throttle
        SET failures = failures - 1,
            blocked_until = CASE WHEN failures - 1 > $2 THEN blocked_until END
      WHERE key = ANY($1::text[]) AND key LIKE 'address:%' AND failures > 0`,
    [keys, FREE_FAILURES],
  );
}
