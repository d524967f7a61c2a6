/**
 * The yardstick: the least a Postgres queue can do for the same work, written as bare SQL on a
 * minimal table (no validation, no leases, no history, no events). The queue's figures are
 * reported as a ratio to this loop, measured in the same run on the same database.
 */
import pg from 'pg';

export const RAW_SCHEMA = `
  DROP TABLE IF EXISTS raw_jobs;
  CREATE TABLE raw_jobs (
    id bigserial PRIMARY KEY,
    job_type text NOT NULL,
    status text NOT NULL DEFAULT 'PENDING',
    priority int NOT NULL DEFAULT 0,
    payload jsonb,
    result jsonb
  );
  CREATE INDEX raw_jobs_ready ON raw_jobs (job_type, priority DESC, id) WHERE status = 'PENDING';`;

export async function rawEnqueue(pool: pg.Pool, count: number, chunk: number): Promise<void> {
  for (let i = 0; i < count; i += chunk) {
    const n = Math.min(chunk, count - i);
    const payloads = Array.from({ length: n }, (_, k) => JSON.stringify({ n: i + k }));
    await pool.query(
      `INSERT INTO raw_jobs (job_type, payload) SELECT 'BENCH', p::jsonb FROM unnest($1::text[]) AS p`,
      [payloads],
    );
  }
}

/** One worker: claim `batch` jobs with SKIP LOCKED, then complete each, until none are left. */
export async function rawWorker(pool: pg.Pool, batch: number): Promise<number> {
  let done = 0;
  for (;;) {
    const { rows } = await pool.query<{ id: string }>(
      `WITH c AS (SELECT id FROM raw_jobs WHERE status = 'PENDING' AND job_type = 'BENCH'
                   ORDER BY priority DESC, id LIMIT $1 FOR UPDATE SKIP LOCKED)
       UPDATE raw_jobs r SET status = 'PROCESSING' FROM c WHERE r.id = c.id RETURNING r.id, r.payload`,
      [batch],
    );
    if (rows.length === 0) return done;
    for (const row of rows) {
      await pool.query(`UPDATE raw_jobs SET status = 'COMPLETED', result = $2, payload = NULL WHERE id = $1`, [
        row.id,
        JSON.stringify({ ok: true }),
      ]);
    }
    done += rows.length;
  }
}
