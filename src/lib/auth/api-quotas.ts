/**
 * Rate limits and quotas per API key, counted in Postgres (api_key_usage) so every serverless
 * instance draws on the same allowance. Each meter counts in fixed windows of the database's
 * clock: requests per minute, records and embeddings per UTC day. Taking is one statement that
 * adds to the window's count only if the sum stays within the limit, so requests sent at once
 * cannot overshoot it, and a refused take writes nothing.
 *
 * A take runs on its own (autocommit), never inside a caller's longer transaction: the window's
 * row is locked only for the statement and its commit, so the requests of one key do not queue
 * behind each other's round trips (inside the submission's transaction it was held across every
 * statement of it: 40 callers of one key got 80 requests/s, p99 675 ms). What a submission took
 * is given back (refundUsage) if the submission then fails.
 */
import type pg from 'pg';
import type { ApiKeyLimits, ApiPrincipal } from './api-keys';

/** A pg pool or client, or a Prisma transaction: quotas are taken inside the caller's transaction. */
export type SqlRunner = pg.Pool | pg.PoolClient | { $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T> };

async function rowsOf<R>(db: SqlRunner, text: string, params: unknown[]): Promise<R[]> {
  if ('$queryRawUnsafe' in db) return db.$queryRawUnsafe<R[]>(text, ...params);
  return (await db.query(text, params)).rows as R[];
}

export type Meter = 'requests' | 'records' | 'embeddings';

const METERS: Record<Meter, { windowSeconds: number; limit: keyof ApiKeyLimits; unit: string }> = {
  requests: { windowSeconds: 60, limit: 'requestsPerMinute', unit: 'requests per minute' },
  records: { windowSeconds: 86_400, limit: 'recordsPerDay', unit: 'records per day' },
  embeddings: { windowSeconds: 86_400, limit: 'embeddingsPerDay', unit: 'embeddings per day' },
};

export type Take =
  | { ok: true; used: number; limit: number; /** The window the amount was counted in, for refundUsage. */ windowStart: Date }
  | { ok: false; limit: number; retryAfterSeconds: number; message: string; retryable: boolean };

/**
 * Takes `amount` of `meter` from the key's allowance. A request (meter 'requests') that is let
 * through also records the key's last use, at most once a minute.
 */
export async function takeUsage(db: SqlRunner, principal: ApiPrincipal, meter: Meter, amount = 1): Promise<Take> {
  const { windowSeconds, limit: limitName, unit } = METERS[meter];
  const limit = principal.limits[limitName];
  if (amount > limit) {
    return {
      ok: false,
      limit,
      retryAfterSeconds: 0,
      retryable: false,
      message: `This request needs ${amount} ${meter}, more than this key's limit of ${limit} ${unit}`,
    };
  }
  const rows = await rowsOf<{ used: number | null; window_start: Date; retry_after: number }>(
    db,
    `WITH w AS (
       SELECT to_timestamp(floor(extract(epoch FROM now())::float8 / $4::int) * $4::int) AS start
     ), taken AS (
       INSERT INTO api_key_usage AS u (api_key_id, meter, window_start, used)
       SELECT $1::uuid, $2::text, w.start, $3::int FROM w
       ON CONFLICT (api_key_id, meter, window_start) DO UPDATE SET used = u.used + EXCLUDED.used
        WHERE u.used + EXCLUDED.used <= $5::int
       RETURNING used
     ), touched AS (
       UPDATE api_keys SET last_used_at = now()
        WHERE id = $1::uuid AND $2::text = 'requests' AND EXISTS (SELECT 1 FROM taken)
          AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
     )
     SELECT (SELECT used FROM taken) AS used, (SELECT start FROM w) AS window_start,
            greatest(1, ceil(extract(epoch FROM (SELECT start FROM w) + $4::int * interval '1 second' - now())))::int AS retry_after`,
    [principal.keyId, meter, amount, windowSeconds, limit],
  );
  const row = rows[0]!;
  if (row.used !== null) return { ok: true, used: row.used, limit, windowStart: new Date(row.window_start) };
  return { ok: false, limit, retryAfterSeconds: row.retry_after, retryable: true, message: `Limit of ${limit} ${unit} reached` };
}

/** Gives back what a take counted in `windowStart`'s window (a submission that failed after its take). */
export async function refundUsage(db: SqlRunner, principal: ApiPrincipal, meter: Meter, amount: number, windowStart: Date): Promise<void> {
  await rowsOf(
    db,
    `UPDATE api_key_usage SET used = greatest(0, used - $3::int)
      WHERE api_key_id = $1::uuid AND meter = $2::text AND window_start = $4::timestamptz
     RETURNING used`,
    [principal.keyId, meter, amount, windowStart],
  );
}

/** Deletes counts of windows that ended more than a day ago (run by the cleanup worker). */
export async function pruneApiUsage(db: pg.Pool): Promise<number> {
  const { rowCount } = await db.query(`DELETE FROM api_key_usage WHERE window_start < now() - interval '2 days'`);
  return rowCount ?? 0;
}
