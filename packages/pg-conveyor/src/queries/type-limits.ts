/** Per-type limits (global concurrency, rate): the statements around a limited claim. */
import type { SqlExecutor } from '../executor.js';

export interface TypeLimitRow {
  job_type: string;
  max_running: number | null;
  rate_limit: number | null;
  rate_period_ms: number | null;
}

export async function typeLimitUpsert(
  db: SqlExecutor,
  p: { jobType: string; maxRunning: number | null; rateLimit: number | null; ratePeriodMs: number | null; now: Date | null },
): Promise<void> {
  // A new or changed rate starts with a full bucket. Time is the test clock's when one is bound ($5).
  await db.query(
    `INSERT INTO job_type_limits (job_type, max_running, rate_limit, rate_period_ms, tokens, refilled_at)
     VALUES ($1, $2, $3, $4, coalesce($3, 0), coalesce($5::timestamptz, now()))
     ON CONFLICT (job_type) DO UPDATE
        SET max_running = EXCLUDED.max_running, rate_limit = EXCLUDED.rate_limit,
            rate_period_ms = EXCLUDED.rate_period_ms, tokens = EXCLUDED.tokens, refilled_at = EXCLUDED.refilled_at`,
    [p.jobType, p.maxRunning, p.rateLimit, p.ratePeriodMs, p.now],
    'conveyor.typeLimitUpsert',
  );
}

export async function typeLimitDelete(db: SqlExecutor, p: { jobType: string }): Promise<void> {
  await db.query('DELETE FROM job_type_limits WHERE job_type = $1', [p.jobType], 'conveyor.typeLimitDelete');
}

export async function typeLimitList(db: SqlExecutor): Promise<TypeLimitRow[]> {
  return db.query<TypeLimitRow>(
    'SELECT job_type, max_running, rate_limit, rate_period_ms FROM job_type_limits',
    [],
    'conveyor.typeLimitList',
  );
}

/**
 * Inside a claim's transaction: locks the type's row (claimers of the type queue here) and refills
 * its token bucket for the time elapsed. Returns nothing when the type has no limits.
 */
export async function typeLimitLockAndRefill(db: SqlExecutor, p: { jobType: string; now: Date | null }): Promise<TypeLimitRow[]> {
  // A clock that reads earlier than the last refill (a test clock beside the real one) adds nothing
  // rather than taking tokens away, and does not move refilled_at back.
  return db.query<TypeLimitRow>(
    `UPDATE job_type_limits
        SET tokens = CASE WHEN rate_limit IS NULL THEN 0
                          ELSE least(rate_limit::float8,
                                     tokens + greatest(extract(epoch FROM coalesce($2::timestamptz, now()) - refilled_at), 0)
                                              * 1000 * rate_limit / rate_period_ms)
                     END,
            refilled_at = greatest(refilled_at, coalesce($2::timestamptz, now()))
      WHERE job_type = $1
     RETURNING job_type, max_running, rate_limit, rate_period_ms`,
    [p.jobType, p.now],
    'conveyor.typeLimitLockAndRefill',
  );
}

/**
 * After the lock, in a statement of its own so its snapshot includes what earlier lock holders
 * committed: how many claims the limits allow now. The running count reads the lease index
 * (`locked_until IS NOT NULL` is PROCESSING, by job_queue_lease_check).
 */
export async function typeLimitAllowance(db: SqlExecutor, p: { jobType: string; wanted: number }): Promise<number> {
  const rows = await db.query<{ allowed: number }>(
    `SELECT greatest(0, least(
              $2::int,
              coalesce(l.max_running - (SELECT count(*) FROM job_queue
                                  WHERE status = 'PROCESSING' AND locked_until IS NOT NULL AND job_type = $1), $2::int),
              CASE WHEN l.rate_limit IS NULL THEN $2::int ELSE floor(l.tokens)::int END
            ))::int AS allowed
       FROM job_type_limits l
      WHERE l.job_type = $1`,
    [p.jobType, p.wanted],
    'conveyor.typeLimitAllowance',
  );
  return rows[0]?.allowed ?? p.wanted;
}

export async function typeLimitConsumeTokens(db: SqlExecutor, p: { jobType: string; taken: number }): Promise<void> {
  await db.query(
    'UPDATE job_type_limits SET tokens = tokens - $2 WHERE job_type = $1 AND rate_limit IS NOT NULL',
    [p.jobType, p.taken],
    'conveyor.typeLimitConsumeTokens',
  );
}
