import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseQueue } from 'pg-conveyor';
import { useTestDatabase } from './helpers/db';

const db = useTestDatabase();
const JOBS = 10_000;
const WORKERS = 10;

describe('concurrent claims on real connections', () => {
  let queues: DatabaseQueue[] = [];

  beforeAll(async () => {
    await db.current.pool.query('CREATE TABLE claim_ledger (job_id uuid NOT NULL, worker int NOT NULL, attempt int NOT NULL)');
    const seeder = new DatabaseQueue({ pool: db.current.pool });
    for (let i = 0; i < JOBS; i += 2_500) {
      await seeder.enqueueMany(Array.from({ length: 2_500 }, (_, k) => ({ jobType: 'CONC', payload: { n: i + k }, priority: (i + k) % 5 })));
    }
    // One pool of one connection per worker: every claim races on its own backend.
    queues = Array.from({ length: WORKERS }, (_, w) => {
      const pool = new pg.Pool({ connectionString: db.current.url, max: 1 });
      pool.on('error', () => {}); // the file's database is dropped with FORCE at the end
      return new DatabaseQueue({ pool, workerId: `w${w}` });
    });
  });
  afterAll(async () => {
    await Promise.all(queues.map((q) => q.pool.end()));
  });

  it(`${WORKERS} workers claim ${JOBS} jobs (batch 1 and batched): zero duplicates, zero lost`, async () => {
    const work = queues.map(async (queue, w) => {
      const batch = w % 2 === 0 ? 1 : 25;
      let handled = 0;
      for (;;) {
        const jobs = await queue.claimJobs(['CONC'], batch);
        if (jobs.length === 0) return handled;
        await queue.pool.query('INSERT INTO claim_ledger SELECT unnest($1::uuid[]), $2, unnest($3::int[])', [
          jobs.map((j) => j.id),
          w,
          jobs.map((j) => j.attempts),
        ]);
        for (const job of jobs) await queue.completeJob(job, { by: w });
        handled += jobs.length;
      }
    });
    const perWorker = await Promise.all(work);
    expect(perWorker.reduce((a, b) => a + b, 0)).toBe(JOBS);
    // Every worker got a share: the claims really ran concurrently.
    expect(perWorker.filter((n) => n > 0).length).toBeGreaterThanOrEqual(WORKERS - 1);

    const { rows: ledger } = await db.current.pool.query(
      'SELECT count(*)::int AS claims, count(DISTINCT job_id)::int AS distinct_jobs, max(attempt) AS max_attempt FROM claim_ledger',
    );
    expect(ledger[0]).toEqual({ claims: JOBS, distinct_jobs: JOBS, max_attempt: 1 });
    const { rows: states } = await db.current.pool.query(
      `SELECT status, count(*)::int AS n, max(attempts) AS max_attempts FROM job_queue WHERE job_type = 'CONC' GROUP BY status`,
    );
    expect(states).toEqual([{ status: 'COMPLETED', n: JOBS, max_attempts: 1 }]);
    const { rows: unmatched } = await db.current.pool.query(
      `SELECT count(*)::int AS n FROM job_queue q LEFT JOIN claim_ledger l ON l.job_id = q.id WHERE l.job_id IS NULL`,
    );
    expect(unmatched[0].n).toBe(0);
  });
});
