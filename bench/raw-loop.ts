/**
 * The yardsticks: the least a Postgres queue can do for the same work, written as bare SQL on a
 * minimal table (no validation, no leases, no attempts, no history, no events). The queue's
 * figures are reported as a ratio to these loops, measured in the same run on the same server.
 */
import pg from 'pg';
import { msSince, sleep } from './bench-db';

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

const RAW_CLAIM = `
  WITH c AS (SELECT id FROM raw_jobs WHERE status = 'PENDING' AND job_type = $1
              ORDER BY priority DESC, id LIMIT $2 FOR UPDATE SKIP LOCKED)
  UPDATE raw_jobs r SET status = 'PROCESSING' FROM c WHERE r.id = c.id RETURNING r.id, r.payload`;
const RAW_COMPLETE = `UPDATE raw_jobs SET status = 'COMPLETED', result = $2, payload = NULL WHERE id = $1`;
const RAW_COMPLETE_MANY = `
  UPDATE raw_jobs r SET status = 'COMPLETED', result = d.result::jsonb, payload = NULL
    FROM unnest($1::bigint[], $2::text[]) AS d(id, result) WHERE r.id = d.id`;
const RAW_CHANNEL = 'raw_jobs';

/** One pool of one connection per loop, as separate processes would have. */
async function withConnections<T>(url: string, count: number, fn: (pools: pg.Pool[]) => Promise<T>): Promise<T> {
  const pools = Array.from({ length: count }, () => new pg.Pool({ connectionString: url, max: 1 }));
  try {
    return await fn(pools);
  } finally {
    await Promise.all(pools.map((p) => p.end()));
  }
}

/** Bulk enqueue: `count` rows, `chunk` per INSERT statement. */
export async function rawEnqueue(pool: pg.Pool, count: number, chunk: number): Promise<void> {
  for (let i = 0; i < count; i += chunk) {
    const n = Math.min(chunk, count - i);
    const payloads = Array.from({ length: n }, (_, k) => JSON.stringify({ n: i + k }));
    await pool.query(`INSERT INTO raw_jobs (job_type, payload) SELECT 'BENCH', p::jsonb FROM unnest($1::text[]) AS p`, [payloads]);
  }
}

/** Single enqueue: `callers` connections, each inserting one row per statement, `total` in all. */
export async function rawEnqueueSingle(url: string, callers: number, total: number): Promise<void> {
  let next = 0;
  await withConnections(url, callers, (pools) =>
    Promise.all(
      pools.map(async (pool) => {
        for (let n = next++; n < total; n = next++) {
          await pool.query(`INSERT INTO raw_jobs (job_type, payload) VALUES ('BENCH', $1)`, [JSON.stringify({ n })]);
        }
      }),
    ),
  );
}

/** Jobs the loops may still take: shared, so `maxJobs` in all are completed, not one more. */
interface Budget {
  left: number;
}

/**
 * One loop: claim up to `batch` jobs with SKIP LOCKED, then complete each in a statement of its
 * own, or all of them in one UPDATE (`together`), until the budget or the table is empty.
 */
async function rawLoop(pool: pg.Pool, batch: number, budget: Budget, together: boolean): Promise<number> {
  let done = 0;
  for (;;) {
    const want = Math.min(batch, budget.left);
    if (want <= 0) return done;
    budget.left -= want;
    const { rows } = await pool.query<{ id: string }>(RAW_CLAIM, ['BENCH', want]);
    budget.left += want - rows.length;
    if (rows.length === 0) return done;
    const result = JSON.stringify({ ok: true });
    if (together) await pool.query(RAW_COMPLETE_MANY, [rows.map((r) => r.id), rows.map(() => result)]);
    else for (const row of rows) await pool.query(RAW_COMPLETE, [row.id, result]);
    done += rows.length;
  }
}

/**
 * `loops` raw loops side by side, each on its own connection; returns the jobs completed.
 * `together`: each loop completes its claim in one UPDATE (the yardstick for batch handlers).
 */
export async function rawDrain(url: string, loops: number, batch: number, maxJobs = Infinity, together = false): Promise<number> {
  const budget = { left: maxJobs };
  return withConnections(url, loops, async (pools) => (await Promise.all(pools.map((p) => rawLoop(p, batch, budget, together)))).reduce((a, b) => a + b, 0));
}

/**
 * Enqueue-to-start latency of the least a LISTEN/NOTIFY queue can do: one statement inserts the
 * row and notifies; a listening connection hears it and claims on a second connection (one with
 * a LISTEN open cannot be the one that claims while a notification is handled); the latency ends
 * when the claim returns the row, then the job is completed. Milliseconds, one per job.
 */
export async function rawLatency(url: string, jobs: number, gapMs: number): Promise<number[]> {
  const [listener, claimer, enqueuer] = [0, 1, 2].map(() => new pg.Client({ connectionString: url }));
  await Promise.all([listener, claimer, enqueuer].map((c) => c.connect()));
  let claimed: (() => void) | null = null;
  let failed: ((error: Error) => void) | null = null;
  // The last notification's claim and completion: awaited before the connections close.
  let handling: Promise<void> = Promise.resolve();
  listener.on('notification', () => {
    handling = (async () => {
      const { rows } = await claimer.query<{ id: string }>(RAW_CLAIM, ['LATENCY', 1]);
      if (rows.length === 0) return;
      claimed?.();
      await claimer.query(RAW_COMPLETE, [rows[0].id, JSON.stringify({ ok: true })]);
    })().catch((error: Error) => failed?.(error));
  });
  await listener.query(`LISTEN ${RAW_CHANNEL}`);
  const latency: number[] = [];
  try {
    for (let i = 0; i < jobs; i++) {
      await sleep(gapMs);
      const begin = process.hrtime.bigint();
      const running = new Promise<void>((resolve, reject) => {
        claimed = resolve;
        failed = reject;
      });
      await enqueuer.query(
        `WITH ins AS (INSERT INTO raw_jobs (job_type, payload) VALUES ('LATENCY', '{}') RETURNING id)
         SELECT pg_notify('${RAW_CHANNEL}', 'LATENCY') FROM ins`,
      );
      await running;
      latency.push(msSince(begin));
    }
  } finally {
    await handling;
    await Promise.all([listener, claimer, enqueuer].map((c) => c.end()));
  }
  return latency;
}
