/**
 * Finished jobs counted per minute and type (job_counts_minute), apart from the job rows, so a
 * retry or cleanup does not rewrite history. See migrations/0011_job_counts.sql.
 */
import type { SqlExecutor } from './executor.js';

/** Takes the roll-up's turn (committed or rolled back with its transaction); answers where the count stands. */
export async function jobCountsLock(db: SqlExecutor): Promise<Date> {
  const [row] = await db.query<{ through: Date }>('SELECT through FROM job_counts_rollup WHERE one = true FOR UPDATE', [], 'conveyor.jobCountsLock');
  return row!.through;
}

/**
 * Counts the jobs finished in [since, upto) and moves `through` to `upto`. Run after
 * jobCountsLock in the same transaction, as a statement of its own, so its snapshot sees every
 * retry that committed while it waited for the lock. The bounds are parameters, not read from the
 * table in the statement, so the planner reads them as a short range of job_queue_finished_idx.
 */
export async function jobCountsRollUp(db: SqlExecutor, p: { since: Date; upto: Date }): Promise<void> {
  await db.query(
    `WITH counted AS (
       INSERT INTO job_counts_minute (minute, job_type, completed, failed, cancelled)
       SELECT date_trunc('minute', completed_at), job_type,
              count(*) FILTER (WHERE status = 'COMPLETED'), count(*) FILTER (WHERE status = 'FAILED'),
              count(*) FILTER (WHERE status = 'CANCELLED')
         FROM job_queue
        WHERE status IN ('COMPLETED', 'FAILED', 'CANCELLED') AND completed_at >= $1::timestamptz AND completed_at < $2::timestamptz
        GROUP BY 1, 2
       ON CONFLICT (minute, job_type) DO UPDATE
          SET completed = job_counts_minute.completed + EXCLUDED.completed,
              failed = job_counts_minute.failed + EXCLUDED.failed,
              cancelled = job_counts_minute.cancelled + EXCLUDED.cancelled
     )
     UPDATE job_counts_rollup SET through = $2::timestamptz WHERE one = true`,
    [p.since, p.upto],
    'conveyor.jobCountsRollUp',
  );
}

/**
 * Completed, failed and cancelled jobs per `bucketMinutes` in [since, until), optionally of one
 * type: every counted outcome, then the finished job rows not counted yet (from `through`; a retry
 * or delete counts what it erases, so the two never overlap).
 */
export async function jobCountsRange(
  db: SqlExecutor,
  p: { since: Date; until: Date; through: Date; bucketMinutes: number; jobType: string | null },
): Promise<{ bucket: Date; completed: number; failed: number; cancelled: number }[]> {
  return db.query(
    `WITH finished AS (
       SELECT minute AS at, completed, failed, cancelled
         FROM job_counts_minute
        WHERE minute >= $1::timestamptz AND minute < $2::timestamptz AND ($5::text IS NULL OR job_type = $5)
       UNION ALL
       SELECT completed_at, (status = 'COMPLETED')::int, (status = 'FAILED')::int, (status = 'CANCELLED')::int
         FROM job_queue
        WHERE status IN ('COMPLETED', 'FAILED', 'CANCELLED')
          AND completed_at >= greatest($3::timestamptz, $1::timestamptz) AND completed_at < $2::timestamptz
          AND ($5::text IS NULL OR job_type = $5)
     )
     SELECT date_bin($4 * interval '1 minute', at, timestamptz '2000-01-01') AS bucket,
            sum(completed)::int AS completed, sum(failed)::int AS failed, sum(cancelled)::int AS cancelled
       FROM finished GROUP BY 1 ORDER BY 1`,
    [p.since, p.until, p.through, p.bucketMinutes, p.jobType],
    'conveyor.jobCountsRange',
  );
}

/**
 * For statements that take a finished job's outcome away (a retry, a delete): locks the roll-up's
 * mark against a roll-up running meanwhile, and counts the outcomes of the rows in `cte` (with
 * their old status, job_type and completed_at) that it has not counted yet.
 */
export const countErasedOutcomes = (cte: string) => `
     mark AS (SELECT through FROM job_counts_rollup WHERE one = true FOR SHARE),
     erased AS (
       INSERT INTO job_counts_minute (minute, job_type, completed, failed, cancelled)
       SELECT date_trunc('minute', e.completed_at), e.job_type,
              count(*) FILTER (WHERE e.status = 'COMPLETED'), count(*) FILTER (WHERE e.status = 'FAILED'),
              count(*) FILTER (WHERE e.status = 'CANCELLED')
         FROM ${cte} e
        WHERE e.completed_at >= (SELECT through FROM mark)
        GROUP BY 1, 2
       ON CONFLICT (minute, job_type) DO UPDATE
          SET completed = job_counts_minute.completed + EXCLUDED.completed,
              failed = job_counts_minute.failed + EXCLUDED.failed,
              cancelled = job_counts_minute.cancelled + EXCLUDED.cancelled
     )`;
