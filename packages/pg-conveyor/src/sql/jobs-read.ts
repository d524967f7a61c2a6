/** Statements that only read jobs: lookups, admin lists and the numbers behind stats. */
import type { SqlExecutor } from './executor.js';
import { JOB_COLUMNS, type JobRow } from './job-row.js';
import type { JobStatus } from '../core/types.js';

export async function jobGetById(db: SqlExecutor, p: { id: string }): Promise<JobRow | undefined> {
  const rows = await db.query<JobRow>(`SELECT ${JOB_COLUMNS} FROM job_queue WHERE id = $1`, [p.id], 'conveyor.jobGetById');
  return rows[0];
}

/**
 * Newest first (ids are UUIDv7: id order is creation order, read backwards off the primary key);
 * each filter applies only when given.
 */
export async function jobListRecent(db: SqlExecutor, p: { status: JobStatus | null; jobType: string | null; limit: number }): Promise<JobRow[]> {
  return db.query<JobRow>(
    `SELECT ${JOB_COLUMNS} FROM job_queue
      WHERE ($1::"JobStatus" IS NULL OR status = $1::"JobStatus")
        AND ($2::text IS NULL OR job_type = $2)
      ORDER BY id DESC
      LIMIT $3`,
    [p.status, p.jobType, p.limit],
    'conveyor.jobListRecent',
  );
}

export async function jobCountByStatus(db: SqlExecutor): Promise<{ status: JobStatus; count: number }[]> {
  return db.query<{ status: JobStatus; count: number }>(
    `SELECT status, count(*)::int AS count FROM job_queue GROUP BY status`,
    [],
    'conveyor.jobCountByStatus',
  );
}

/**
 * The distinct (job_type, priority) pairs of the waiting jobs, by a skip scan of the ready index
 * (one probe per pair, never a read of the backlog): `groups` for the statements below.
 */
const PENDING_GROUPS = `WITH RECURSIVE groups (job_type, priority) AS (
       (SELECT job_type, priority FROM job_queue WHERE status = 'PENDING' ORDER BY job_type, priority DESC LIMIT 1)
       UNION ALL
       SELECT next.job_type, next.priority
         FROM groups g
        CROSS JOIN LATERAL (
          (SELECT job_type, priority FROM job_queue
            WHERE status = 'PENDING' AND job_type = g.job_type AND priority < g.priority
            ORDER BY job_type, priority DESC LIMIT 1)
          UNION ALL
          (SELECT job_type, priority FROM job_queue
            WHERE status = 'PENDING' AND job_type > g.job_type
            ORDER BY job_type, priority DESC LIMIT 1)
          LIMIT 1
        ) next
     )`;

/**
 * The due PENDING job that has waited longest (earliest run_at), and how long. Read off the claim's
 * index (job_type, priority DESC, run_at, id) with a skip scan: the recursive part walks the
 * distinct (type, priority) pairs, one index probe each, and the first due row of each pair is the
 * earliest of its group. Cost follows the number of types and priorities, never the backlog, and
 * the table needs no index of its own for it (every index costs each enqueue).
 */
export async function jobGetOldestPending(
  db: SqlExecutor,
  p: { now: Date | null },
): Promise<{ id: string; created_at: Date; run_at: Date; age_seconds: number } | undefined> {
  const rows = await db.query<{ id: string; created_at: Date; run_at: Date; age_seconds: number }>(
    `${PENDING_GROUPS}
     SELECT first.id, first.created_at, first.run_at,
            extract(epoch FROM coalesce($1::timestamptz, now()) - first.run_at)::float8 AS age_seconds
       FROM groups g
      CROSS JOIN LATERAL (
        SELECT id, created_at, run_at FROM job_queue
         WHERE status = 'PENDING' AND job_type = g.job_type AND priority = g.priority
           AND run_at <= coalesce($1::timestamptz, now())
         ORDER BY run_at, id LIMIT 1
      ) first
      ORDER BY first.run_at, first.id
      LIMIT 1`,
    [p.now],
    'conveyor.jobGetOldestPending',
  );
  return rows[0];
}

/**
 * PENDING and PROCESSING counts, exact up to `cap` (each read off its partial index, so the cost
 * follows the size of the active set, not of the table); past the cap the caller estimates.
 * `locked_until IS NOT NULL` says PROCESSING again (job_queue_lease_check) in the words of the
 * lease index's predicate, which status alone no longer matches (migration 20261127100000).
 */
export async function jobCountActiveCapped(db: SqlExecutor, p: { cap: number }): Promise<{ pending: number; processing: number }> {
  const rows = await db.query<{ pending: number; processing: number }>(
    `SELECT (SELECT count(*) FROM (SELECT 1 FROM job_queue WHERE status = 'PENDING' LIMIT $1) p)::int AS pending,
            (SELECT count(*) FROM (SELECT 1 FROM job_queue WHERE status = 'PROCESSING' AND locked_until IS NOT NULL LIMIT $1) r)::int AS processing`,
    [p.cap],
    'conveyor.jobCountActiveCapped',
  );
  return rows[0]!;
}

/**
 * The planner's picture of the table: its estimated row count and the share of each status, from
 * the statistics ANALYZE keeps (autovacuum refreshes them after 2 % of the rows change). Free to
 * read at any size; as fresh as the last analyze.
 */
export async function jobStatusEstimates(db: SqlExecutor): Promise<{ total: number; shares: Record<string, number> }> {
  const rows = await db.query<{ total: number; vals: string[] | null; freqs: number[] | null }>(
    `SELECT greatest(c.reltuples, 0)::float8 AS total,
            s.most_common_vals::text::text[] AS vals,
            s.most_common_freqs::float8[] AS freqs
       FROM pg_class c
       LEFT JOIN pg_stats s ON s.schemaname = current_schema() AND s.tablename = 'job_queue' AND s.attname = 'status'
      WHERE c.oid = 'job_queue'::regclass`,
    [],
    'conveyor.jobStatusEstimates',
  );
  const row = rows[0];
  const shares: Record<string, number> = {};
  (row?.vals ?? []).forEach((status, i) => (shares[status] = row?.freqs?.[i] ?? 0));
  return { total: row?.total ?? 0, shares };
}

/**
 * FAILED jobs (the dead letters), most recently failed first, optionally of one type. Keyset
 * pagination: pass the last row's (completed_at, id) to get the next page.
 */
export async function jobListFailed(
  db: SqlExecutor,
  p: { jobType: string | null; limit: number; before: { completedAt: Date; id: string } | null },
): Promise<JobRow[]> {
  return db.query<JobRow>(
    `SELECT ${JOB_COLUMNS} FROM job_queue
      WHERE status = 'FAILED'
        AND ($1::text IS NULL OR job_type = $1)
        AND ($3::timestamptz IS NULL OR (completed_at, id) < ($3::timestamptz, $4::uuid))
      ORDER BY completed_at DESC, id DESC
      LIMIT $2`,
    [p.jobType, p.limit, p.before?.completedAt ?? null, p.before?.id ?? null],
    'conveyor.jobListFailed',
  );
}

/** PENDING and PROCESSING jobs by type: two scans, each on its partial index (see jobCountActiveCapped). */
export async function jobCountActiveByType(db: SqlExecutor): Promise<{ job_type: string; status: JobStatus; count: number }[]> {
  return db.query<{ job_type: string; status: JobStatus; count: number }>(
    `SELECT job_type, 'PENDING'::"JobStatus" AS status, count(*)::int AS count FROM job_queue WHERE status = 'PENDING' GROUP BY job_type
     UNION ALL
     SELECT job_type, 'PROCESSING'::"JobStatus", count(*)::int FROM job_queue WHERE status = 'PROCESSING' AND locked_until IS NOT NULL GROUP BY job_type`,
    [],
    'conveyor.jobCountActiveByType',
  );
}

/**
 * Jobs of a type whose payload contains `payload` (jsonb @>), oldest first: what the testing
 * helpers look for. Reads the whole type; not for hot paths.
 */
export async function jobListMatching(
  db: SqlExecutor,
  p: { jobType: string; payload: string | null; status: JobStatus | null; limit: number },
): Promise<JobRow[]> {
  return db.query<JobRow>(
    `SELECT ${JOB_COLUMNS} FROM job_queue
      WHERE job_type = $1
        AND ($2::jsonb IS NULL OR payload @> $2::jsonb)
        AND ($3::"JobStatus" IS NULL OR status = $3::"JobStatus")
      ORDER BY id
      LIMIT $4`,
    [p.jobType, p.payload, p.status, p.limit],
    'conveyor.jobListMatching',
  );
}

export interface TypeHourRow {
  job_type: string;
  completed: number;
  failed: number;
  p50_ms: number | null;
  p95_ms: number | null;
}

/**
 * Per type, the jobs that finished in the last hour (through job_queue_finished_idx, so the cost
 * follows the hour's volume, never the backlog): how many completed and failed, and the median and
 * 95th percentile of completed ones' run time (claim to completion).
 */
export async function jobTypeLastHour(db: SqlExecutor, p: { now: Date | null }): Promise<TypeHourRow[]> {
  return db.query<TypeHourRow>(
    `SELECT job_type,
            count(*) FILTER (WHERE status = 'COMPLETED')::int AS completed,
            count(*) FILTER (WHERE status = 'FAILED')::int AS failed,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - started_at) * 1000)
              FILTER (WHERE status = 'COMPLETED' AND started_at IS NOT NULL) AS p50_ms,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - started_at) * 1000)
              FILTER (WHERE status = 'COMPLETED' AND started_at IS NOT NULL) AS p95_ms
       FROM job_queue
      WHERE status IN ('COMPLETED', 'FAILED', 'CANCELLED')
        AND completed_at > coalesce($1::timestamptz, now()) - interval '1 hour'
      GROUP BY job_type`,
    [p.now],
    'conveyor.jobTypeLastHour',
  );
}

/**
 * Per type, how long its longest-waiting due job has waited (from its run_at): the first due row
 * of each (type, priority) group, as jobGetOldestPending reads it.
 */
export async function jobOldestDuePerType(db: SqlExecutor, p: { now: Date | null }): Promise<{ job_type: string; age_seconds: number }[]> {
  return db.query<{ job_type: string; age_seconds: number }>(
    `${PENDING_GROUPS}
     SELECT g.job_type, max(extract(epoch FROM coalesce($1::timestamptz, now()) - first.run_at))::float8 AS age_seconds
       FROM groups g
      CROSS JOIN LATERAL (
        SELECT run_at FROM job_queue
         WHERE status = 'PENDING' AND job_type = g.job_type AND priority = g.priority
           AND run_at <= coalesce($1::timestamptz, now())
         ORDER BY run_at, id LIMIT 1
      ) first
      GROUP BY g.job_type`,
    [p.now],
    'conveyor.jobOldestDuePerType',
  );
}

/**
 * Per type with jobs waiting or running: the waiting ones counted up to `cap` (an exact count of a
 * million waiting rows reads a million index entries: 200 ms), the running ones through the lease
 * index. Types are found by a skip scan of the ready index, one probe each.
 */
export async function jobActivePerTypeCapped(db: SqlExecutor, p: { cap: number }): Promise<{ job_type: string; pending: number; processing: number }[]> {
  return db.query<{ job_type: string; pending: number; processing: number }>(
    `WITH RECURSIVE waiting (job_type) AS (
       (SELECT job_type FROM job_queue WHERE status = 'PENDING' ORDER BY job_type LIMIT 1)
       UNION ALL
       SELECT (SELECT q.job_type FROM job_queue q WHERE q.status = 'PENDING' AND q.job_type > w.job_type ORDER BY q.job_type LIMIT 1)
         FROM waiting w WHERE w.job_type IS NOT NULL
     ), pending AS (
       SELECT w.job_type, (SELECT count(*) FROM (SELECT 1 FROM job_queue q WHERE q.status = 'PENDING' AND q.job_type = w.job_type LIMIT $1) c)::int AS n
         FROM waiting w WHERE w.job_type IS NOT NULL
     ), running AS (
       SELECT job_type, count(*)::int AS n FROM job_queue WHERE status = 'PROCESSING' AND locked_until IS NOT NULL GROUP BY job_type
     )
     SELECT coalesce(p.job_type, r.job_type) AS job_type, coalesce(p.n, 0) AS pending, coalesce(r.n, 0) AS processing
       FROM pending p FULL JOIN running r ON r.job_type = p.job_type`,
    [p.cap],
    'conveyor.jobActivePerTypeCapped',
  );
}

/**
 * A job's chain: the job whose completion enqueued it, and (up to 50) the jobs its completion
 * enqueued, through job_queue_parent_idx (chained jobs only).
 */
export async function jobLinks(db: SqlExecutor, p: { id: string }): Promise<{ parent_id: string | null; child_ids: string[] }> {
  const [row] = await db.query<{ parent_id: string | null; child_ids: string[] }>(
    `SELECT (SELECT parent_id FROM job_queue WHERE id = $1) AS parent_id,
            ARRAY(SELECT id FROM job_queue WHERE parent_id = $1 ORDER BY id LIMIT 50)::text[] AS child_ids`,
    [p.id],
    'conveyor.jobLinks',
  );
  return row!;
}

/** Due jobs an outlook counts per (type, priority) at most: enough to tell "more than a drain can take". */
export const OUTLOOK_DUE_CAP = 1000;

/**
 * What waits for a drain of these types: the PENDING jobs due now (counted up to OUTLOOK_DUE_CAP
 * per type and priority), and how long until the next one that is not due yet comes due (a sleep
 * ending, a retry's backoff, a delayed job). Paused types are left out, as the claim leaves them.
 * The skip scan of jobGetOldestPending, restricted to the given types: one index probe per (type,
 * priority) for the groups and one per group for each figure, so the cost follows the number of
 * groups and the cap, never the backlog. The cap is a constant in the text for the claim's reason
 * (a generic plan cannot see a parameter's LIMIT and would cost it as a tenth of the backlog),
 * and the count is ordered as the index is so that it reads the index: unordered, the planner
 * preferred a scan of the table with a filter, which is JIT-compiled at a million jobs and reads
 * every finished row before the first waiting one.
 */
export async function jobOutlookForTypes(db: SqlExecutor, p: { types: string[]; now: Date | null }): Promise<{ due: number; next_in_ms: number | null }> {
  const rows = await db.query<{ due: number; next_in_ms: number | null }>(
    `WITH RECURSIVE types AS (
       SELECT u.job_type FROM unnest($1::text[]) AS u(job_type)
        WHERE NOT EXISTS (SELECT 1 FROM job_type_pauses paused WHERE paused.job_type = u.job_type)
     ), groups (job_type, priority) AS (
       SELECT t.job_type, first.priority FROM types t
        CROSS JOIN LATERAL (SELECT priority FROM job_queue WHERE status = 'PENDING' AND job_type = t.job_type
                             ORDER BY priority DESC LIMIT 1) first
       UNION ALL
       SELECT g.job_type, next.priority FROM groups g
        CROSS JOIN LATERAL (SELECT priority FROM job_queue WHERE status = 'PENDING' AND job_type = g.job_type AND priority < g.priority
                             ORDER BY priority DESC LIMIT 1) next
     )
     SELECT (SELECT count(*) FROM groups g
              CROSS JOIN LATERAL (SELECT 1 FROM job_queue
                                   WHERE status = 'PENDING' AND job_type = g.job_type AND priority = g.priority
                                     AND run_at <= coalesce($2::timestamptz, now())
                                   ORDER BY run_at LIMIT ${OUTLOOK_DUE_CAP}) due)::int AS due,
            (SELECT extract(epoch FROM min(later.run_at) - coalesce($2::timestamptz, now())) * 1000 FROM groups g
              CROSS JOIN LATERAL (SELECT run_at FROM job_queue
                                   WHERE status = 'PENDING' AND job_type = g.job_type AND priority = g.priority
                                     AND run_at > coalesce($2::timestamptz, now())
                                   ORDER BY run_at LIMIT 1) later)::float8 AS next_in_ms`,
    [p.types, p.now],
    'conveyor.jobOutlookForTypes',
  );
  return rows[0] ?? { due: 0, next_in_ms: null };
}
