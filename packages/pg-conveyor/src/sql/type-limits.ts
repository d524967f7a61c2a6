/** Per-type controls: limits (global concurrency, rate), the statements around a limited claim, and pauses. */
import type { SqlExecutor } from './executor.js';
import { JOBS_CHANNEL } from './jobs-insert.js';

export interface TypeLimitRow {
  job_type: string;
  max_running: number | null;
  rate_limit: number | null;
  rate_period_ms: number | null;
}

/**
 * Sets a type's limits. Setting the values it has changes nothing (a serverless app that sets its
 * limits at every cold start does not reset them), and a changed rate keeps the starts already
 * counted: they happened.
 */
export async function typeLimitUpsert(
  db: SqlExecutor,
  p: { jobType: string; maxRunning: number | null; rateLimit: number | null; ratePeriodMs: number | null },
): Promise<void> {
  await db.query(
    `INSERT INTO job_type_limits (job_type, max_running, rate_limit, rate_period_ms)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (job_type) DO UPDATE
        SET max_running = EXCLUDED.max_running, rate_limit = EXCLUDED.rate_limit, rate_period_ms = EXCLUDED.rate_period_ms
      WHERE (job_type_limits.max_running, job_type_limits.rate_limit, job_type_limits.rate_period_ms)
            IS DISTINCT FROM (EXCLUDED.max_running, EXCLUDED.rate_limit, EXCLUDED.rate_period_ms)`,
    [p.jobType, p.maxRunning, p.rateLimit, p.ratePeriodMs],
    'conveyor.typeLimitUpsert',
  );
}

export async function typeLimitDelete(db: SqlExecutor, p: { jobType: string }): Promise<void> {
  await db.query('DELETE FROM job_type_limits WHERE job_type = $1', [p.jobType], 'conveyor.typeLimitDelete');
}

export async function typeLimitList(db: SqlExecutor): Promise<TypeLimitRow[]> {
  return db.query<TypeLimitRow>('SELECT job_type, max_running, rate_limit, rate_period_ms FROM job_type_limits', [], 'conveyor.typeLimitList');
}

/**
 * Inside a claim's transaction: locks the type's row, so claimers of the type take turns and each
 * counts what the previous one committed. Returns nothing when the type has no limits.
 */
export async function typeLimitLock(db: SqlExecutor, p: { jobType: string }): Promise<TypeLimitRow[]> {
  return db.query<TypeLimitRow>(
    'SELECT job_type, max_running, rate_limit, rate_period_ms FROM job_type_limits WHERE job_type = $1 FOR UPDATE',
    [p.jobType],
    'conveyor.typeLimitLock',
  );
}

// The rate window's slot width: a hundredth of the period (at least 1 ms). A start is counted
// while its slot began less than a period plus a slot ago, so a full period after the start itself.
const SLOT_MS = 'greatest(1, l.rate_period_ms / 100)';
const SLOT_OF_NOW = `to_timestamp(floor(extract(epoch FROM coalesce($2::timestamptz, now())) * 1000 / ${SLOT_MS}) * ${SLOT_MS} / 1000.0)`;
const IN_WINDOW = `slot > coalesce($2::timestamptz, now()) - (l.rate_period_ms + ${SLOT_MS}) * interval '1 millisecond'`;

/**
 * After the lock, in a statement of its own so its snapshot includes what earlier lock holders
 * committed: how many claims the limits allow now (the rate: the limit less the starts counted in
 * the window). The running count reads the lease index
 * (`locked_until IS NOT NULL` is PROCESSING, by job_queue_lease_check).
 */
export async function typeLimitAllowance(db: SqlExecutor, p: { jobType: string; wanted: number; now: Date | null }): Promise<number> {
  const rows = await db.query<{ allowed: number }>(
    `SELECT greatest(0, least(
              $3::int,
              coalesce(l.max_running - (SELECT count(*) FROM job_queue
                                  WHERE status = 'PROCESSING' AND locked_until IS NOT NULL AND job_type = $1), $3::int),
              CASE WHEN l.rate_limit IS NULL THEN $3::int
                   ELSE l.rate_limit - coalesce((SELECT sum(n) FROM unnest(l.rate_slots, l.rate_counts) AS w(slot, n) WHERE ${IN_WINDOW}), 0)::int
              END
            ))::int AS allowed
       FROM job_type_limits l
      WHERE l.job_type = $1`,
    [p.jobType, p.now, p.wanted],
    'conveyor.typeLimitAllowance',
  );
  return rows[0]?.allowed ?? p.wanted;
}

/** Counts `taken` starts in the slot of now, and forgets the slots out of the window. */
export async function typeLimitRecordStarts(db: SqlExecutor, p: { jobType: string; now: Date | null; taken: number }): Promise<void> {
  await db.query(
    `UPDATE job_type_limits l
        SET (rate_slots, rate_counts) = (
              SELECT coalesce(array_agg(slot ORDER BY slot), '{}'), coalesce(array_agg(n ORDER BY slot), '{}')
                FROM (SELECT slot, sum(n)::int AS n
                        FROM (SELECT * FROM unnest(l.rate_slots, l.rate_counts) AS w(slot, n)
                              UNION ALL SELECT ${SLOT_OF_NOW}, $3::int) AS starts
                       WHERE ${IN_WINDOW}
                       GROUP BY slot) AS kept)
      WHERE l.job_type = $1 AND l.rate_limit IS NOT NULL`,
    [p.jobType, p.now, p.taken],
    'conveyor.typeLimitRecordStarts',
  );
}

/** Pauses a type (again: keeps the first pause). Answers whether it was running until now. */
export async function typePause(db: SqlExecutor, p: { jobType: string; by: string | null; now: Date | null }): Promise<boolean> {
  const rows = await db.query(
    `INSERT INTO job_type_pauses (job_type, paused_at, paused_by) VALUES ($1, coalesce($3::timestamptz, now()), $2)
     ON CONFLICT (job_type) DO NOTHING RETURNING job_type`,
    [p.jobType, p.by, p.now],
    'conveyor.typePause',
  );
  return rows.length > 0;
}

/** Resumes a type and wakes listening workers for it, in one statement. Answers whether it was paused. */
export async function typeResume(db: SqlExecutor, p: { jobType: string }): Promise<boolean> {
  const rows = await db.query(
    `WITH resumed AS (DELETE FROM job_type_pauses WHERE job_type = $1 RETURNING job_type)
     SELECT job_type, pg_notify('${JOBS_CHANNEL}', job_type) FROM resumed`,
    [p.jobType],
    'conveyor.typeResume',
  );
  return rows.length > 0;
}

export async function typePausedList(db: SqlExecutor): Promise<{ job_type: string; paused_at: Date; paused_by: string | null }[]> {
  return db.query('SELECT job_type, paused_at, paused_by FROM job_type_pauses ORDER BY job_type', [], 'conveyor.typePausedList');
}

/** Notes that `by` handles these types; a note younger than 30 s is left as it is (no write). */
export async function typeHandlersSeen(db: SqlExecutor, p: { types: string[]; by: string; now: Date | null }): Promise<void> {
  await db.query(
    `INSERT INTO job_type_handlers (job_type, seen_by, seen_at) SELECT unnest($1::text[]), $2, coalesce($3::timestamptz, now())
     ON CONFLICT (job_type) DO UPDATE SET seen_at = EXCLUDED.seen_at, seen_by = EXCLUDED.seen_by
      WHERE job_type_handlers.seen_at < EXCLUDED.seen_at - interval '30 seconds'`,
    [p.types, p.by, p.now],
    'conveyor.typeHandlersSeen',
  );
}

/** Each type's last note, and whether it is younger than `withinMs` by the database's clock (or the test clock). */
export async function typeHandlersList(
  db: SqlExecutor,
  p: { withinMs: number; now: Date | null },
): Promise<{ job_type: string; seen_at: Date; seen_by: string | null; recent: boolean }[]> {
  return db.query(
    `SELECT job_type, seen_at, seen_by, seen_at >= coalesce($2::timestamptz, now()) - $1 * interval '1 millisecond' AS recent
       FROM job_type_handlers`,
    [p.withinMs, p.now],
    'conveyor.typeHandlersList',
  );
}
