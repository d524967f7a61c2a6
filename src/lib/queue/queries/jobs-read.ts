/** Statements that only read jobs: lookups, admin lists and the numbers behind stats. */
import type { SqlExecutor } from '../executor';
import { JOB_COLUMNS, type JobRow } from '../job-row';
import type { JobStatus } from '../types';

export async function jobGetById(db: SqlExecutor, p: { id: string }): Promise<JobRow | undefined> {
  const rows = await db.query<JobRow>(`SELECT ${JOB_COLUMNS} FROM job_queue WHERE id = $1`, [p.id], 'conveyor.jobGetById');
  return rows[0];
}

/**
 * Newest first (ids are UUIDv7: id order is creation order, read backwards off the primary key);
 * each filter applies only when given.
 */
export async function jobListRecent(
  db: SqlExecutor,
  p: { status: JobStatus | null; jobType: string | null; limit: number },
): Promise<JobRow[]> {
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

/** The PENDING job created first (lowest UUIDv7, job_queue_pending_id_idx), and its age. */
export async function jobGetOldestPending(
  db: SqlExecutor,
  p: { now: Date | null },
): Promise<{ id: string; created_at: Date; age_seconds: number } | undefined> {
  const rows = await db.query<{ id: string; created_at: Date; age_seconds: number }>(
    `SELECT id, created_at,
            extract(epoch FROM coalesce($1::timestamptz, now()) - created_at)::float8 AS age_seconds
       FROM job_queue
      WHERE status = 'PENDING'
      ORDER BY id
      LIMIT 1`,
    [p.now],
    'conveyor.jobGetOldestPending',
  );
  return rows[0];
}
