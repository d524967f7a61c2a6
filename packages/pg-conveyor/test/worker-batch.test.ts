/** Batch handlers and prefetch in the worker process, on a real server with real connections. */
import { once } from 'node:events';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseQueue, NonRetryableError, ValidationError } from 'pg-conveyor';
import { Worker } from 'pg-conveyor/worker';
import type { Job } from 'pg-conveyor';
import { useQueue } from './helpers/queue';
import { until } from './helpers/wait';
import { countJobs, jobRow } from './helpers/jobs';

const t = useQueue({ reset: true });
const db = t.db;
let pool: pg.Pool;
let queue: DatabaseQueue;
/** Names of the queue's statements, in the order they were sent. */
const statements: string[] = [];
const workers: Worker[] = [];

beforeAll(() => {
  pool = new pg.Pool({ connectionString: db.current.url, max: 6 });
  const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
  (pool as unknown as { query: typeof query }).query = (...args: unknown[]) => {
    const name = (args[0] as { name?: string })?.name;
    if (name) statements.push(name);
    return query(...args);
  };
  queue = t.makeQueue({ pool });
});
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
  statements.length = 0;
});
afterAll(async () => {
  await queue.close();
  await pool.end();
});

function worker(handlers: ConstructorParameters<typeof Worker>[0]['handlers'], options: Partial<ConstructorParameters<typeof Worker>[0]> = {}) {
  const w = new Worker({ queue, connectionString: db.current.url, handlers, ...options });
  workers.push(w);
  return w;
}

describe('batch handlers', () => {
  it('take up to `size` jobs per call in claim order; one statement completes a batch, one fails its failures', async () => {
    const jobs = await queue.enqueueMany(Array.from({ length: 120 }, (_, n) => ({ jobType: 'BATCH', payload: { n }, priority: n < 10 ? 1 : 0 })));
    const flaky = jobs[30]!.id;
    const broken = jobs[31]!.id;
    const calls: number[][] = [];
    const w = worker({
      BATCH: {
        batch: {
          size: 50,
          handler: async (batch: Job<{ n: number }>[]) => {
            calls.push(batch.map((j) => j.payload!.n));
            return batch.map((j) =>
              j.id === flaky ? new Error('try again') : j.id === broken ? new NonRetryableError('never') : { doubled: j.payload!.n * 2 },
            );
          },
        },
      },
    });
    await w.start();
    await until(async () => (await countJobs(db.current.pool, "status <> 'PROCESSING' AND attempts > 0")) === 120);
    await w.stop();

    expect(calls.map((c) => c.length)).toEqual([50, 50, 20]);
    // Priority first, then enqueue order, as a per-job claim would have taken them.
    expect(calls.flat()).toEqual([...Array.from({ length: 10 }, (_, n) => n), ...Array.from({ length: 110 }, (_, n) => n + 10)]);
    expect(statements.filter((s) => s === 'conveyor.jobCompleteManyIfRunning')).toHaveLength(3);
    expect(statements.filter((s) => s === 'conveyor.jobFailManyIfRunning')).toHaveLength(1);
    expect(await jobRow(db.current.pool, jobs[7]!.id)).toMatchObject({ status: 'COMPLETED', result: { doubled: 14 } });
    expect(await jobRow(db.current.pool, flaky)).toMatchObject({ status: 'PENDING', attempts: 1 });
    expect((await jobRow(db.current.pool, flaky)).errors[0]).toMatchObject({ message: 'try again', kind: 'error' });
    expect(await jobRow(db.current.pool, broken)).toMatchObject({ status: 'FAILED', result: { error: 'NonRetryableError: never' } });
  });

  it('a handler that throws fails every job of its batch; one that returns the wrong count says so', async () => {
    await queue.enqueueMany(Array.from({ length: 4 }, () => ({ jobType: 'THROWS' })));
    await queue.enqueueMany(Array.from({ length: 3 }, () => ({ jobType: 'MISCOUNTS' })));
    const w = worker({
      THROWS: {
        batch: {
          size: 10,
          handler: async () => {
            throw new Error('provider down');
          },
        },
      },
      MISCOUNTS: { batch: { size: 10, handler: async () => [1] } },
    });
    await w.start();
    await until(async () => (await countJobs(db.current.pool, "status = 'PENDING' AND attempts = 1")) === 7);
    const { rows } = await db.current.pool.query<{ job_type: string; message: string }>(
      `SELECT job_type, errors -> 0 ->> 'message' AS message FROM job_queue ORDER BY job_type`,
    );
    expect(rows.filter((r) => r.job_type === 'THROWS').map((r) => r.message)).toEqual(Array(4).fill('provider down'));
    for (const r of rows.filter((r) => r.job_type === 'MISCOUNTS')) {
      expect(r.message).toMatch(/returned 1 entries; expected nothing or one entry for each of its 3 jobs/);
    }
  });

  it('a job cancelled while its batch runs is counted lost and stays CANCELLED; the others complete', async () => {
    const jobs = await queue.enqueueMany(Array.from({ length: 3 }, () => ({ jobType: 'CANCEL_MID' })));
    let ended: unknown = null;
    const w = worker({
      CANCEL_MID: {
        batch: {
          size: 3,
          handler: async () => {
            await queue.cancelJob(jobs[1]!.id);
            return ['a', 'b', 'c'];
          },
        },
      },
    });
    w.on('batch:end', (_jobs, outcome) => (ended = outcome));
    await w.start();
    await until(() => ended !== null);
    expect(ended).toEqual({ completed: 2, failed: 0, released: 0, lost: 1 });
    expect((await jobRow(db.current.pool, jobs[1]!.id)).status).toBe('CANCELLED');
    expect((await jobRow(db.current.pool, jobs[2]!.id)).result).toBe('c');
  });

  it('a batch that outlives its timeout fails each job with one short message naming the batch', async () => {
    const jobs = await queue.enqueueMany([{ jobType: 'SLOW_BATCH' }, { jobType: 'SLOW_BATCH' }]);
    const w = worker(
      {
        SLOW_BATCH: {
          timeoutMs: 100,
          batch: { size: 5, handler: (_batch, { signal }) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))) },
        },
      },
      { graceMs: 50 },
    );
    await w.start();
    await until(async () => (await countJobs(db.current.pool, "status = 'PENDING' AND attempts = 1")) === 2);
    for (const job of jobs) {
      expect((await jobRow(db.current.pool, job.id)).errors[0].message).toMatch(
        new RegExp(`^JobTimeoutError: Job batch of 2 from ${jobs[0]!.id} did not finish within \\d+ ms$`),
      );
    }
  });

  it('slots hungry together share one claim; batches finishing together share a completion statement', async () => {
    await queue.enqueueMany(Array.from({ length: 20 }, (_, n) => ({ jobType: 'TOGETHER', payload: { n } })));
    const sizes: number[] = [];
    let allStarted: () => void = () => {};
    const started = new Promise<void>((resolve) => (allStarted = resolve));
    const w = worker({
      TOGETHER: {
        concurrency: 4,
        batch: {
          size: 5,
          handler: async (batch) => {
            if (sizes.push(batch.length) === 4) allStarted();
            await started;
          },
        },
      },
    });
    await w.start();
    await until(async () => (await countJobs(db.current.pool, "status = 'COMPLETED'")) === 20);
    expect(sizes).toEqual([5, 5, 5, 5]);
    // One claim statement took all twenty (one transaction, one now()); a claim per slot would show four.
    const { rows } = await db.current.pool.query<{ claims: number }>('SELECT count(DISTINCT started_at)::int AS claims FROM job_queue');
    expect(rows[0]!.claims).toBe(1);
    expect(statements.filter((s) => s === 'conveyor.jobCompleteManyIfRunning').length).toBeLessThan(4);
  });

  it('does not give a slot less than its batch when slots x size is more than one claim may take', async () => {
    for (let i = 0; i < 2; i++) await queue.enqueueMany(Array.from({ length: 600 }, () => ({ jobType: 'BIG_BATCH' })));
    const sizes: number[] = [];
    const w = worker({ BIG_BATCH: { concurrency: 2, batch: { size: 600, handler: async (batch) => void sizes.push(batch.length) } } });
    await w.start();
    await until(async () => (await countJobs(db.current.pool, "status = 'COMPLETED'")) === 1200);
    expect(sizes).toEqual([600, 600]);
  });

  it('refuses a bad definition with a ValidationError naming the type', () => {
    expect(() => new Worker({ queue, handlers: { BAD: { batch: { size: 0, handler: async () => {} } } } })).toThrow(ValidationError);
    expect(() => new Worker({ queue, handlers: { BAD: { batch: { size: 5 } } as never } })).toThrow(/BAD/);
  });
});

describe('prefetch', () => {
  it('claims ahead into a buffer: more jobs claimed than slots, fewer claim statements than jobs', async () => {
    await queue.enqueueMany(Array.from({ length: 200 }, (_, n) => ({ jobType: 'PF', payload: { n } })));
    const order: number[] = [];
    const w = worker({ PF: { concurrency: 2, prefetch: 20, handler: async (job: Job<{ n: number }>) => void order.push(job.payload!.n) } });
    await w.start();
    await until(async () => (await countJobs(db.current.pool, "status = 'COMPLETED'")) === 200);
    expect(order).toEqual(Array.from({ length: 200 }, (_, n) => n));
    expect(statements.filter((s) => s === 'conveyor.jobClaimAvailable').length).toBeLessThanOrEqual(200 / 20 + 5);
  });

  it('keeps buffered jobs leased by heartbeat and hands them back untouched on stop()', async () => {
    await queue.enqueueMany(Array.from({ length: 10 }, () => ({ jobType: 'PF_STOP' })));
    let release: () => void = () => {};
    const blocked = new Promise<void>((resolve) => (release = resolve));
    const w = worker({ PF_STOP: { concurrency: 1, prefetch: 5, handler: () => blocked } }, { leaseMs: 1_000, shutdownTimeoutMs: 5_000 });
    await w.start();
    await until(async () => (await countJobs(db.current.pool, "status = 'PROCESSING'")) === 6);
    // Two heartbeats (every leaseMs / 3) later the lease has been extended past the claim's:
    // without them the buffered jobs would be rescued below once that first lease ran out.
    const leases = async () =>
      (
        await db.current.pool.query<{ first: Date; last: Date }>(
          "SELECT min(locked_until) AS first, max(locked_until) AS last FROM job_queue WHERE status = 'PROCESSING'",
        )
      ).rows[0]!;
    const claimedUntil = (await leases()).last;
    await once(w, 'heartbeat');
    await once(w, 'heartbeat');
    expect((await leases()).first.getTime()).toBeGreaterThan(claimedUntil.getTime());
    await until(async () => (await db.current.pool.query('SELECT now() > $1::timestamptz AS past', [claimedUntil])).rows[0].past, 3_000);
    await queue.rescueExpired();
    expect(await countJobs(db.current.pool, "status = 'PROCESSING'")).toBe(6);
    const stopping = w.stop();
    release();
    await stopping;
    expect(await countJobs(db.current.pool, "status = 'COMPLETED'")).toBe(1);
    // The five prefetched ones are PENDING again with their attempt not counted.
    expect(await countJobs(db.current.pool, "status = 'PENDING' AND attempts = 0")).toBe(9);
  });
});

describe('prefetch and cancellation', () => {
  it('drops a prefetched job that was cancelled before it ran: its handler never sees it', async () => {
    const jobs = await queue.enqueueMany(Array.from({ length: 4 }, (_, n) => ({ jobType: 'PF_CANCEL', payload: { n } })));
    let release: () => void = () => {};
    const first = new Promise<void>((resolve) => (release = resolve));
    const seen: number[] = [];
    const w = worker(
      {
        PF_CANCEL: {
          concurrency: 1,
          prefetch: 3,
          handler: async (job: Job<{ n: number }>) => {
            seen.push(job.payload!.n);
            if (job.payload!.n === 0) await first;
          },
        },
      },
      { leaseMs: 1_000 },
    );
    await w.start();
    await until(async () => (await countJobs(db.current.pool, "status = 'PROCESSING'")) === 4);
    await queue.cancelJob(jobs[2]!.id);
    await once(w, 'heartbeat'); // it learns that job is no longer its own (a heartbeat in flight may predate the cancel:
    await once(w, 'heartbeat'); // the second one started after it)
    release();
    await until(async () => (await countJobs(db.current.pool, "status = 'COMPLETED'")) === 3);
    expect(seen).toEqual([0, 1, 3]);
    expect((await jobRow(db.current.pool, jobs[2]!.id)).status).toBe('CANCELLED');
  });
});
