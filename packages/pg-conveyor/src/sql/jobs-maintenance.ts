/**
 * Housekeeping statements: lease rescue and retention. Both work in bounded batches of
 * MAINTENANCE_BATCH rows, written into the text as a constant: with `LIMIT $n` a generic plan
 * assumes 10 % of the matching rows, and with a million finished jobs retention would be costed
 * past jit_above_cost and JIT-compiled on every batch (packages/pg-conveyor/test/hot-plans.test.ts).
 */
import { DEFAULTS } from '../core/config.js';
import type { SqlExecutor } from './executor.js';
import { JOB_COLUMNS, type JobRow } from './job-row.js';

export const MAINTENANCE_BATCH = DEFAULTS.maintenanceBatchSize;

/**
 * PROCESSING jobs whose lease expired (their worker crashed, hung or lost its connection) go back
 * to PENDING with the retry delay for the attempt they were on, or to FAILED when that attempt was
 * their last. SKIP LOCKED lets several rescuers run at once without waiting on each other.
 */
export async function jobRescueExpired(db: SqlExecutor, p: { delaysMs: number[]; now: Date | null }): Promise<JobRow[]> {
  return db.query<JobRow>(
    `WITH expired AS (
       SELECT id AS expired_id, attempts >= max_attempts AS final
         FROM job_queue
        WHERE status = 'PROCESSING' AND locked_until < coalesce($2::timestamptz, now())
        ORDER BY locked_until
        LIMIT ${MAINTENANCE_BATCH}
          FOR UPDATE SKIP LOCKED
     )
     UPDATE job_queue j
        SET status = CASE WHEN e.final THEN 'FAILED' ELSE 'PENDING' END::"JobStatus",
            run_at = CASE WHEN e.final THEN j.run_at
                          ELSE coalesce($2::timestamptz, now())
                               + ($1::int[])[least(j.attempts, cardinality($1::int[]))] * interval '1 millisecond'
                     END,
            completed_at = CASE WHEN e.final THEN coalesce($2::timestamptz, now()) END,
            result = CASE WHEN e.final THEN jsonb_build_object('error', 'lease expired') ELSE j.result END,
            errors = j.errors || jsonb_build_array(jsonb_build_object(
                       'attempt', j.attempts, 'at', coalesce($2::timestamptz, now()),
                       'message', 'lease expired (worker ' || coalesce(j.locked_by, '?') || ' did not finish in time)',
                       'kind', 'lease_expired')),
            locked_until = NULL, locked_by = NULL, updated_at = now()
       FROM expired e
      WHERE j.id = e.expired_id
     RETURNING ${JOB_COLUMNS}`,
    [p.delaysMs, p.now],
    'conveyor.jobRescueExpired',
  );
}

/**
 * Deletes up to MAINTENANCE_BATCH jobs that finished before now - olderThanMs, oldest first.
 * Returns the count. The ORDER BY keeps the read on job_queue_finished_idx: without it, when most
 * finished rows qualify, the planner reads the table from its start, through every waiting job,
 * until it has found a batch.
 */
export function jobDeleteFinishedBefore(db: SqlExecutor, p: { olderThanMs: number; now: Date | null }): Promise<number> {
  // Only jobs the per-minute history has counted: retention never erases throughput.
  return deleteFinishedBefore(
    db,
    'job_queue',
    'conveyor.jobDeleteFinishedBefore',
    p,
    'AND completed_at < (SELECT through FROM job_counts_rollup WHERE one = true)',
  );
}

/** Workflow runs finished before the cutoff, a batch at a time; their steps and map items go with them. */
export function workflowRunDeleteFinishedBefore(db: SqlExecutor, p: { olderThanMs: number; now: Date | null }): Promise<number> {
  return deleteFinishedBefore(db, 'workflow_runs', 'conveyor.workflowRunDeleteFinishedBefore', p);
}

/** Both tables keep finished rows under the same statuses, indexed on completed_at for this. */
async function deleteFinishedBefore(
  db: SqlExecutor,
  table: 'job_queue' | 'workflow_runs',
  name: string,
  p: { olderThanMs: number; now: Date | null },
  alsoWhere = '',
): Promise<number> {
  const rows = await db.query<{ deleted: number }>(
    `WITH doomed AS (
       SELECT id FROM ${table}
        WHERE status IN ('COMPLETED', 'FAILED', 'CANCELLED')
          AND completed_at < coalesce($2::timestamptz, now()) - $1 * interval '1 millisecond' ${alsoWhere}
        ORDER BY completed_at
        LIMIT ${MAINTENANCE_BATCH}
          FOR UPDATE SKIP LOCKED
     ), deleted AS (
       DELETE FROM ${table} t USING doomed WHERE t.id = doomed.id RETURNING 1
     )
     SELECT count(*)::int AS deleted FROM deleted`,
    [p.olderThanMs, p.now],
    name,
  );
  return rows[0]?.deleted ?? 0;
}

/** Deletes every job of a type that is not running (running ones finish, then retention takes them). */
export async function jobDeleteNotRunningOfType(db: SqlExecutor, p: { jobType: string }): Promise<number> {
  const rows = await db.query<{ deleted: number }>(
    `WITH deleted AS (DELETE FROM job_queue WHERE job_type = $1 AND status <> 'PROCESSING' RETURNING 1)
     SELECT count(*)::int AS deleted FROM deleted`,
    [p.jobType],
    'conveyor.jobDeleteNotRunningOfType',
  );
  return rows[0]?.deleted ?? 0;
}
