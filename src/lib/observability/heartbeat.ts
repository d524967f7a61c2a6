/** Worker heartbeats: each worker run records when it ran and what it did, for the health check. */
import type pg from 'pg';

export async function recordWorkerRun(pool: pg.Pool, name: string, result: unknown): Promise<void> {
  await pool.query(
    `INSERT INTO worker_heartbeats (name, last_run_at, last_result) VALUES ($1, now(), $2)
     ON CONFLICT (name) DO UPDATE SET last_run_at = now(), last_result = EXCLUDED.last_result`,
    [name, JSON.stringify(result)],
  );
}

export async function lastWorkerRun(pool: pg.Pool): Promise<{ name: string; lastRunAt: Date; ageSeconds: number } | null> {
  const { rows } = await pool.query<{ name: string; last_run_at: Date; age_seconds: number }>(
    `SELECT name, last_run_at, extract(epoch FROM now() - last_run_at)::float8 AS age_seconds
       FROM worker_heartbeats ORDER BY last_run_at DESC LIMIT 1`,
  );
  const row = rows[0];
  return row ? { name: row.name, lastRunAt: row.last_run_at, ageSeconds: row.age_seconds } : null;
}
