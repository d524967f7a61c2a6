/**
 * Every statement that changes a job's state. Each transition is ONE statement guarded by the
 * current status (and, for a worker's own claim, by its attempt number), so two actors racing on
 * one job cannot both win, and a worker whose lease was taken over changes nothing.
 * Time is the database's `now()` unless a test clock is bound as `$now` (see clock.ts).
 */
import type { SqlExecutor } from './executor.js';
import { DEFAULTS } from '../core/config.js';
import { JOB_COLUMNS, JOB_COLUMNS_OF_J, type JobRow } from './job-row.js';
import { countErasedOutcomes } from './job-counts.js';
import { NEW_DEDUPE_KEY, NEW_JOBS, NEW_PAYLOAD, NEW_RUN_AT, NEW_UNIQUE_KEY, newJobParams, notifyReady, type NewJobRow } from './jobs-insert.js';
import { jsonArray, plainArray } from './literals.js';

/** The most jobs one claim may ask for: a constant in the claim's text (see jobClaimAvailable). */
const CLAIM_LIMIT_CEILING = DEFAULTS.claimBatchMax;

/**
 * Claims up to `limit` ready jobs. The CTE is a fence: it picks and locks exactly the rows it
 * returns (SKIP LOCKED, so concurrent claimers take different rows instead of queueing behind each
 * other); a plain `WHERE id IN (subquery)` may be re-evaluated and update more rows than the LIMIT.
 * One LATERAL scan per job type, each reading job_queue_ready_idx (job_type, priority DESC,
 * run_at, id) in order and stopping after `limit` rows: `job_type = ANY(...)` would make the
 * planner sort every ready row of those types instead.
 *
 * The inner LIMIT is a constant on purpose. The queue's statements run as generic plans (planned
 * once per connection, see PREPARED_SESSION_OPTIONS), and a generic plan cannot see `$2`: Postgres
 * then assumes 10 % of the ready rows are wanted, so at a million pending jobs it costs the claim
 * at over a million, above jit_above_cost, and JIT-compiles it on every execution (~20-400 ms
 * against 0.4 ms). With the constant ceiling the estimate is a thousand rows however large the
 * backlog grows. Nothing extra is locked: rows flow up one at a time, the outer `LIMIT $2` stops
 * pulling after `$2` of them, and LockRows only locks what is pulled (skipped rows are not counted).
 *
 * A paused type (job_type_pauses) is left out before its scan: nothing of it is claimed, by any
 * worker or cron tick, from the moment the pause commits.
 *
 * Jobs with a concurrency key are skipped while another job of that key runs, and a batch takes
 * at most one per key (DISTINCT ON). The NOT EXISTS repeats `concurrency_key IS NOT NULL` so that,
 * planned as a hashed subplan (the running keys, read once), it still matches the predicate of
 * job_queue_one_running_per_key_idx and reads that small index rather than the whole table. Two claimers racing for two jobs of one key both pass the
 * NOT EXISTS; the unique index job_queue_one_running_per_key_idx then fails the second statement
 * (SQLSTATE 23505), which the caller retries.
 */
export async function jobClaimAvailable(
  db: SqlExecutor,
  p: { types: string[]; limit: number; leaseMs: number; workerId: string; now: Date | null },
): Promise<JobRow[]> {
  return db.query<JobRow>(
    `WITH candidates AS (
       SELECT c.* FROM (SELECT u.job_type FROM unnest($1::text[]) AS u(job_type)
                         WHERE NOT EXISTS (SELECT 1 FROM job_type_pauses paused WHERE paused.job_type = u.job_type)) AS t
       CROSS JOIN LATERAL (
         SELECT * FROM (
           SELECT id, concurrency_key, priority, run_at FROM job_queue q
            WHERE q.status = 'PENDING'
              AND q.job_type = t.job_type
              AND q.run_at <= coalesce($5::timestamptz, now())
              AND (q.concurrency_key IS NULL OR NOT EXISTS (
                    SELECT 1 FROM job_queue running
                     WHERE running.status = 'PROCESSING' AND running.concurrency_key IS NOT NULL
                       AND running.concurrency_key = q.concurrency_key))
            ORDER BY q.priority DESC, q.run_at, q.id
            LIMIT ${CLAIM_LIMIT_CEILING}
            FOR UPDATE SKIP LOCKED
         ) ahead
         LIMIT $2
       ) c
     ), one_per_key AS (
       SELECT DISTINCT ON (coalesce(concurrency_key, id::text)) id, priority, run_at
         FROM candidates
        ORDER BY coalesce(concurrency_key, id::text), priority DESC, run_at, id
     ), ready AS (
       SELECT id AS ready_id FROM one_per_key ORDER BY priority DESC, run_at, id LIMIT $2
     )
     UPDATE job_queue j
        SET status = 'PROCESSING',
            attempts = j.attempts + 1,
            locked_until = coalesce($5::timestamptz, now()) + $3 * interval '1 millisecond',
            locked_by = $4,
            started_at = coalesce($5::timestamptz, now()),
            updated_at = now()
       FROM ready
      WHERE j.id = ready.ready_id
     RETURNING ${JOB_COLUMNS}`,
    [p.types, p.limit, p.leaseMs, p.workerId, p.now],
    'conveyor.jobClaimAvailable',
  );
}

/**
 * PROCESSING -> COMPLETED. Stores the result and drops the payload (it may hold data the app does
 * not want kept, and it is the bulk of the row) unless the queue keeps payloads (`keepPayload`, $5). `$2` null = any attempt (unfenced). A result of
 * JSON null is stored as none, as an enqueue stores a payload of JSON null (a job reads either as
 * null).
 */
const COMPLETE_IF_RUNNING = `
  UPDATE job_queue
     SET status = 'COMPLETED', result = nullif($3::jsonb, 'null'::jsonb), payload = CASE WHEN $5::boolean THEN payload END,
         locked_until = NULL, locked_by = NULL,
         completed_at = coalesce($4::timestamptz, now()), updated_at = now()
   WHERE id = $1 AND status = 'PROCESSING' AND ($2::int IS NULL OR attempts = $2)
  RETURNING ${JOB_COLUMNS}`;

export async function jobCompleteIfRunning(
  db: SqlExecutor,
  p: { id: string; attempt: number | null; result: string | null; now: Date | null; keepPayload: boolean },
): Promise<JobRow[]> {
  return db.query<JobRow>(COMPLETE_IF_RUNNING, [p.id, p.attempt, p.result, p.now, p.keepPayload], 'conveyor.jobCompleteIfRunning');
}

/**
 * Completions of claimed jobs, any number in one statement, each fenced by its own attempt, and
 * returning only what the claim's copy of the job cannot know: a worker completes thousands of
 * jobs a second, and one statement for several of them (batcher.ts) is most of the saving.
 * A job missing from the answer was not PROCESSING under that attempt any more. Ids must be
 * validated UUIDs (literals.ts); a result of JSON null is stored as none, as above.
 *
 * The results are one JSON array, parsed once (the sub-select is an InitPlan) and indexed by each
 * job's position, rather than a third function beside the unnest: Postgres guesses 100 rows for a
 * function it cannot see into, and 100 primary-key probes cost more than reading a table of up to
 * about 20,000 jobs whole, so single completions on such a table each read all of it (2.5 ms
 * instead of 0.35). unnest's guess is the array's length, or 10 for an unknown one.
 */
export async function jobCompleteManyIfRunning(
  db: SqlExecutor,
  p: { ids: string[]; attempts: number[]; results: (string | null)[]; now: Date | null; keepPayload: boolean },
): Promise<{ id: string; progress: unknown; updated_at: Date; completed_at: Date }[]> {
  return db.query(
    `UPDATE job_queue j
        SET status = 'COMPLETED', result = nullif((SELECT $3::jsonb) -> (done.n - 1)::int, 'null'::jsonb), payload = CASE WHEN $5::boolean THEN j.payload END,
            locked_until = NULL, locked_by = NULL,
            completed_at = coalesce($4::timestamptz, now()), updated_at = now()
       FROM unnest($1::uuid[], $2::int[]) WITH ORDINALITY AS done(id, attempt, n)
      WHERE j.id = done.id AND j.status = 'PROCESSING' AND j.attempts = done.attempt
     RETURNING j.id, j.progress, j.updated_at, j.completed_at`,
    [plainArray(p.ids), plainArray(p.attempts), jsonArray(p.results), p.now, p.keepPayload],
    'conveyor.jobCompleteManyIfRunning',
  );
}

/**
 * The same completion, with follow-up jobs inserted by the same statement only if the completion
 * happened: a chain link is never lost to a crash between the two, nor created by a fenced-out
 * zombie.
 */
export async function jobCompleteIfRunningWithFollowUps(
  db: SqlExecutor,
  p: {
    id: string;
    attempt: number | null;
    result: string | null;
    followUps: NewJobRow[];
    now: Date | null;
    traceContext: string | null;
    keepPayload: boolean;
  },
): Promise<(JobRow & { kind: 'completed' | 'follow_up' })[]> {
  return db.query<JobRow & { kind: 'completed' | 'follow_up' }>(
    `WITH completed AS (
       UPDATE job_queue
          SET status = 'COMPLETED', result = nullif($16::jsonb, 'null'::jsonb), payload = CASE WHEN $17::boolean THEN payload END,
              locked_until = NULL, locked_by = NULL,
              completed_at = coalesce($12::timestamptz, now()), updated_at = now()
        WHERE id = $14 AND status = 'PROCESSING' AND ($15::int IS NULL OR attempts = $15)
       RETURNING ${JOB_COLUMNS}
     ), follow_ups AS (
       INSERT INTO job_queue (id, job_type, payload, priority, max_attempts, run_at, concurrency_key, dedupe_key, unique_key, trace_context, parent_id)
       SELECT j.id, j.job_type, ${NEW_PAYLOAD}, j.priority, j.max_attempts, ${NEW_RUN_AT}, j.concurrency_key, ${NEW_DEDUPE_KEY}, ${NEW_UNIQUE_KEY},
              $13::jsonb, $14::uuid
         FROM ${NEW_JOBS}
        WHERE EXISTS (SELECT 1 FROM completed)
       ON CONFLICT DO NOTHING
       RETURNING ${JOB_COLUMNS}
     ), notified AS (${notifyReady('follow_ups')})
     SELECT 'completed' AS kind, completed.* FROM completed, notified
     UNION ALL
     SELECT 'follow_up' AS kind, * FROM follow_ups`,
    [...newJobParams(db, p.followUps), p.now, p.traceContext, p.id, p.attempt, p.result, p.keepPayload],
    'conveyor.jobCompleteIfRunningWithFollowUps',
  );
}

/**
 * PROCESSING -> PENDING (retry later) or FAILED (attempts spent, or `final`), for any number of
 * jobs in one statement, each fenced by its own attempt (null = any attempt, for a bare id). The
 * next run time is `now() + delays[attempts] * spread`: the retry policy's table of delays and each
 * job's jitter, computed in code (backoff.ts), indexed here by the attempt that failed (the last
 * entry repeats). The error is
 * appended to the job's history; a final failure also puts it in `result.error`, where the docs'
 * queries read it. A job missing from the answer was not PROCESSING under that attempt any more.
 */
export async function jobFailManyIfRunning(
  db: SqlExecutor,
  p: {
    ids: string[];
    attempts: (number | null)[];
    messages: string[];
    kinds: ('error' | 'non_retryable')[];
    finals: boolean[];
    /** Each job's own jitter, a factor around 1 applied to its delay (jobs failing together spread out). */
    spreads: number[];
    delaysMs: number[];
    now: Date | null;
  },
): Promise<JobRow[]> {
  return db.query<JobRow>(
    `UPDATE job_queue j
        SET status = CASE WHEN f.final OR j.attempts >= j.max_attempts THEN 'FAILED' ELSE 'PENDING' END::"JobStatus",
            run_at = CASE WHEN f.final OR j.attempts >= j.max_attempts THEN j.run_at
                          ELSE coalesce($7::timestamptz, now())
                               + round(($6::int[])[least(j.attempts, cardinality($6::int[]))] * f.spread) * interval '1 millisecond'
                     END,
            completed_at = CASE WHEN f.final OR j.attempts >= j.max_attempts THEN coalesce($7::timestamptz, now()) END,
            result = CASE WHEN f.final OR j.attempts >= j.max_attempts THEN jsonb_build_object('error', f.message) ELSE j.result END,
            errors = j.errors || jsonb_build_array(jsonb_build_object(
                       'attempt', j.attempts, 'at', coalesce($7::timestamptz, now()),
                       'message', f.message, 'kind', f.kind)),
            locked_until = NULL, locked_by = NULL, updated_at = now()
       FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::boolean[], $8::float8[])
            AS f(failed_id, failed_attempt, message, kind, final, spread)
      WHERE j.id = f.failed_id AND j.status = 'PROCESSING' AND (f.failed_attempt IS NULL OR j.attempts = f.failed_attempt)
     RETURNING ${JOB_COLUMNS}`,
    [p.ids, p.attempts, p.messages, p.kinds, p.finals, p.delaysMs, p.now, p.spreads],
    'conveyor.jobFailManyIfRunning',
  );
}

/** Progress of a running job. Touches no indexed column, so the update stays HOT. */
export async function jobSetProgressIfRunning(
  db: SqlExecutor,
  p: { id: string; attempt: number | null; current: number; total: number; message: string },
): Promise<{ id: string }[]> {
  return db.query<{ id: string }>(
    `UPDATE job_queue
        SET progress = jsonb_build_object('current', $3::float8, 'total', $4::float8, 'message', $5::text),
            updated_at = now()
      WHERE id = $1 AND status = 'PROCESSING' AND ($2::int IS NULL OR attempts = $2)
     RETURNING id`,
    [p.id, p.attempt, p.current, p.total, p.message],
    'conveyor.jobSetProgressIfRunning',
  );
}

/**
 * FAILED or CANCELLED -> PENDING, runnable now. Like Oban's retry, it grants one more attempt when
 * the job had spent them all, and keeps the error history. The states are said as "none of the
 * others" so the planner cannot take the small job_queue_unsuccessful_idx: with id its last
 * column, finding one job there walks the whole index, where the primary key finds it in one probe.
 * An outcome not yet counted in the per-minute history is counted as the retry erases it.
 */
export async function jobRetryIfFinishedUnsuccessfully(db: SqlExecutor, p: { id: string; now: Date | null }): Promise<JobRow[]> {
  return db.query<JobRow>(
    `WITH old AS (
       SELECT id, job_type, status, completed_at FROM job_queue
        WHERE id = $1 AND status NOT IN ('PENDING', 'PROCESSING', 'COMPLETED') AND attempts < 1000
          FOR UPDATE
     ), ${countErasedOutcomes('old')}
     UPDATE job_queue j
        SET status = 'PENDING', run_at = coalesce($2::timestamptz, now()),
            max_attempts = greatest(j.max_attempts, j.attempts + 1),
            completed_at = NULL, result = NULL, updated_at = now()
       FROM old
      WHERE j.id = old.id
     RETURNING ${JOB_COLUMNS_OF_J}`,
    [p.id, p.now],
    'conveyor.jobRetryIfFinishedUnsuccessfully',
  );
}

/**
 * PENDING jobs due later made due now, and workers woken for them (a workflow's awaited event
 * arrived before its timeout). Jobs not PENDING, or already due, are left as they are.
 */
export async function jobPromoteIfPending(db: SqlExecutor, p: { ids: string[]; now: Date | null }): Promise<{ id: string }[]> {
  return db.query<{ id: string }>(
    `WITH promoted AS (
       UPDATE job_queue SET run_at = coalesce($2::timestamptz, now()), updated_at = now()
        WHERE id = ANY($1::uuid[]) AND status = 'PENDING' AND run_at > coalesce($2::timestamptz, now())
       RETURNING id, job_type, run_at
     ), notified AS (${notifyReady('promoted')})
     SELECT promoted.id FROM promoted, notified`,
    [p.ids, p.now],
    'conveyor.jobPromoteIfPending',
  );
}

/** PENDING or PROCESSING -> CANCELLED. A worker still running it finds its lease gone. */
export async function jobCancelIfUnfinished(db: SqlExecutor, p: { id: string; now: Date | null }): Promise<JobRow[]> {
  return db.query<JobRow>(
    `UPDATE job_queue
        SET status = 'CANCELLED', locked_until = NULL, locked_by = NULL,
            completed_at = coalesce($2::timestamptz, now()), updated_at = now()
      WHERE id = $1 AND status IN ('PENDING', 'PROCESSING')
     RETURNING ${JOB_COLUMNS}`,
    [p.id, p.now],
    'conveyor.jobCancelIfUnfinished',
  );
}

/**
 * PROCESSING -> PENDING for a claim that was never started (a drain ran out of time before it got
 * to the job): the attempt is handed back, so the job is claimable at once and loses nothing.
 */
export async function jobReleaseIfRunning(db: SqlExecutor, p: { id: string; attempt: number }): Promise<JobRow[]> {
  return db.query<JobRow>(
    `UPDATE job_queue
        SET status = 'PENDING', attempts = attempts - 1,
            started_at = CASE WHEN attempts = 1 THEN NULL ELSE started_at END,
            locked_until = NULL, locked_by = NULL, updated_at = now()
      WHERE id = $1 AND status = 'PROCESSING' AND attempts = $2
     RETURNING ${JOB_COLUMNS}`,
    [p.id, p.attempt],
    'conveyor.jobReleaseIfRunning',
  );
}

/**
 * Heartbeat: pushes out the lease of jobs still held by these exact attempts. Returns the ids
 * still held; a job missing from the answer was cancelled or taken over, and its handler should stop.
 */
export async function jobExtendLeaseIfRunning(db: SqlExecutor, p: { ids: string[]; attempts: number[]; leaseMs: number }): Promise<{ id: string }[]> {
  return db.query<{ id: string }>(
    `UPDATE job_queue j
        SET locked_until = now() + $3 * interval '1 millisecond', updated_at = now()
       FROM unnest($1::uuid[], $2::int[]) AS held(id, attempt)
      WHERE j.id = held.id AND j.attempts = held.attempt AND j.status = 'PROCESSING'
     RETURNING j.id`,
    [p.ids, p.attempts, p.leaseMs],
    'conveyor.jobExtendLeaseIfRunning',
  );
}
