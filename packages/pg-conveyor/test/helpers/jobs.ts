/** Factories and assertions for tests: put a job in any state directly, count jobs by state. */
import { v7 as uuidv7 } from 'uuid';
import type pg from 'pg';
import { expect } from 'vitest';
import type { JobStatus } from 'pg-conveyor';

export interface InsertJobOptions {
  jobType?: string;
  status?: JobStatus;
  payload?: unknown;
  priority?: number;
  attempts?: number;
  maxAttempts?: number;
  /** Offsets in seconds from the database's now(). */
  runAtOffsetS?: number;
  lockedUntilOffsetS?: number;
  completedAtOffsetS?: number;
  createdAtOffsetS?: number;
}

/** Inserts one job in the given state, with the columns its state requires. Returns its id. */
export async function insertJob(pool: pg.Pool, o: InsertJobOptions = {}): Promise<string> {
  const status = o.status ?? 'PENDING';
  const finished = status === 'COMPLETED' || status === 'FAILED' || status === 'CANCELLED';
  const id = uuidv7();
  await pool.query(
    `INSERT INTO job_queue (id, job_type, status, payload, priority, attempts, max_attempts, run_at,
                           locked_until, locked_by, started_at, completed_at, created_at)
     VALUES ($1, $2, $3::text::"JobStatus", $4::jsonb, $5, $6, $7, now() + $8 * interval '1 second',
             CASE WHEN $3::text = 'PROCESSING' THEN now() + $9 * interval '1 second' END,
             CASE WHEN $3::text = 'PROCESSING' THEN 'test-worker' END,
             CASE WHEN $3::text <> 'PENDING' THEN now() END,
             CASE WHEN $10 THEN now() + $11 * interval '1 second' END,
             now() + $12 * interval '1 second')`,
    [
      id,
      o.jobType ?? 'TEST',
      status,
      JSON.stringify(o.payload ?? { n: 1 }),
      o.priority ?? 0,
      o.attempts ?? (status === 'PENDING' ? 0 : 1),
      o.maxAttempts ?? 3,
      o.runAtOffsetS ?? 0,
      o.lockedUntilOffsetS ?? 300,
      finished,
      o.completedAtOffsetS ?? 0,
      o.createdAtOffsetS ?? 0,
    ],
  );
  return id;
}

export async function countJobs(pool: pg.Pool, where = 'true', params: unknown[] = []): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM job_queue WHERE ${where}`, params);
  return rows[0]!.n;
}

export async function expectJobCount(pool: pg.Pool, expected: number, where = 'true', params: unknown[] = []) {
  expect(await countJobs(pool, where, params)).toBe(expected);
}

export async function jobRow(pool: pg.Pool, id: string) {
  const { rows } = await pool.query('SELECT * FROM job_queue WHERE id = $1', [id]);
  return rows[0];
}
