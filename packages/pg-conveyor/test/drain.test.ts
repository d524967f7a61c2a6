import { beforeEach, describe, expect, it } from 'vitest';
import { DatabaseQueue, drainQueue, NonRetryableError, ValidationError } from 'pg-conveyor';
import { useQueue } from './helpers/queue';
import { countJobs, expectJobCount } from './helpers/jobs';

const t = useQueue();
const db = t.db;

beforeEach(() => t.reset());

describe('drainQueue (one cron tick)', () => {
  it('claims at most maxJobs, completes them with the handler’s result, and reports', async () => {
    await t.queue.enqueueMany(Array.from({ length: 5 }, (_, i) => ({ jobType: 'D', payload: { i } })));
    const result = await drainQueue(t.queue, { types: ['D'], maxJobs: 3, handler: async (job) => ({ doubled: (job.payload as { i: number }).i * 2 }) });
    expect(result).toMatchObject({ success: true, processed: 3, completed: 3, failed: 0, stoppedBy: 'maxJobs' });
    expect(result.duration).toBeGreaterThanOrEqual(0);
    await expectJobCount(db.current.pool, 3, "status = 'COMPLETED' AND result ? 'doubled'");
    await expectJobCount(db.current.pool, 2, "status = 'PENDING'");
  });

  it('without maxJobs, drains until the queue is empty (the budget still bounds it)', async () => {
    await t.queue.enqueueMany(Array.from({ length: 4 }, () => ({ jobType: 'D' })));
    const result = await drainQueue(t.queue, { types: ['D'], handler: async () => 'ok' });
    expect(result).toMatchObject({ completed: 4, stoppedBy: 'empty' });
  });

  it('bad options are a ValidationError before anything is claimed', async () => {
    await t.queue.enqueue({ jobType: 'D' });
    for (const bad of [{ maxJobs: 0 }, { maxJobs: 1.5 }, { budgetMs: -1 }, { types: 'D' }, { types: ['bad type!'] }, { handler: 'not a function' }]) {
      await expect(drainQueue(t.queue, { types: ['D'], handler: async () => 'ok', ...bad } as never), JSON.stringify(bad)).rejects.toBeInstanceOf(
        ValidationError,
      );
    }
    expect(await countJobs(db.current.pool, "status = 'PENDING' AND attempts = 0")).toBe(1);
  });

  it('stops when the queue is empty', async () => {
    await t.queue.enqueue({ jobType: 'D' });
    const result = await drainQueue(t.queue, { types: ['D'], maxJobs: 10, handler: async () => 'ok' });
    expect(result).toMatchObject({ processed: 1, stoppedBy: 'empty' });
  });

  it('records handler errors as failed attempts (retried later), NonRetryableError as FAILED', async () => {
    const { id: retryable } = await t.queue.enqueue({ jobType: 'D', priority: 2 });
    const { id: fatal } = await t.queue.enqueue({ jobType: 'D', priority: 1 });
    const result = await drainQueue(t.queue, {
      types: ['D'],
      maxJobs: 2,
      handler: async (job) => {
        throw job.id === fatal ? new NonRetryableError('bad data') : new Error('flaky');
      },
    });
    expect(result).toMatchObject({ processed: 2, failed: 2, completed: 0 });
    expect((await t.queue.getJob(retryable))!.status).toBe('PENDING');
    expect((await t.queue.getJob(fatal))!.status).toBe('FAILED');
  });

  it('honours its budget with a slow handler: aborts it, returns before deadline + grace, leaves nothing locked', async () => {
    await t.queue.enqueueMany([{ jobType: 'SLOW' }, { jobType: 'SLOW' }, { jobType: 'SLOW' }]);
    let sawAbort = false;
    const started = Date.now();
    const result = await drainQueue(t.queue, {
      types: ['SLOW'],
      maxJobs: 3,
      budgetMs: 1_500,
      graceMs: 300,
      minTimeToClaimMs: 200,
      handler: (_job, ctx) =>
        new Promise((resolve, reject) => {
          const timer = setTimeout(() => resolve('finished'), 10_000);
          ctx.signal.addEventListener('abort', () => {
            sawAbort = true;
            clearTimeout(timer);
            reject(ctx.signal.reason);
          });
        }),
    });
    const elapsed = Date.now() - started;
    expect(sawAbort).toBe(true);
    expect(elapsed).toBeLessThan(1_500 + 300 + 500);
    expect(result).toMatchObject({ stoppedBy: 'budget', failed: 1, completed: 0 });
    await expectJobCount(db.current.pool, 0, "status = 'PROCESSING'");
    // The interrupted job counts an attempt and will be retried; the others were never touched.
    await expectJobCount(db.current.pool, 1, "status = 'PENDING' AND attempts = 1 AND errors -> 0 ->> 'message' LIKE '%did not finish%'");
    await expectJobCount(db.current.pool, 2, "status = 'PENDING' AND attempts = 0");
  });

  it('gives up on a handler that ignores the abort, fails its attempt, and its late result changes nothing', async () => {
    const { id } = await t.queue.enqueue({ jobType: 'STUBBORN' });
    let finishLate: (v: unknown) => void = () => {};
    const started = Date.now();
    const result = await drainQueue(t.queue, {
      types: ['STUBBORN'],
      maxJobs: 1,
      budgetMs: 400,
      graceMs: 200,
      minTimeToClaimMs: 100,
      handler: () => new Promise((resolve) => (finishLate = resolve)),
    });
    expect(Date.now() - started).toBeLessThan(1_200);
    expect(result).toMatchObject({ failed: 1 });
    finishLate('too late');
    const job = await t.queue.getJob(id);
    expect(job).toMatchObject({ status: 'PENDING', attempts: 1, result: null });
    expect(await countJobs(db.current.pool, "status = 'PROCESSING'")).toBe(0);
  });

  it('enqueues follow-ups with the completion, and only then', async () => {
    await t.queue.enqueue({ jobType: 'PARENT', payload: { n: 1 } });
    await drainQueue(t.queue, {
      types: ['PARENT'],
      maxJobs: 1,
      handler: async (job, ctx) => {
        ctx.enqueueOnComplete({ jobType: 'CHILD', payload: { parent: job.id } });
        return 'done';
      },
    });
    await expectJobCount(db.current.pool, 1, "job_type = 'CHILD' AND status = 'PENDING'");

    await t.queue.enqueue({ jobType: 'PARENT', payload: { n: 2 } });
    await drainQueue(t.queue, {
      types: ['PARENT'],
      maxJobs: 1,
      handler: async (_job, ctx) => {
        ctx.enqueueOnComplete({ jobType: 'CHILD' });
        throw new Error('parent failed');
      },
    });
    await expectJobCount(db.current.pool, 1, "job_type = 'CHILD'");
  });

  it('a job cancelled while it runs is reported as lost, and stays cancelled', async () => {
    const { id } = await t.queue.enqueue({ jobType: 'CANCELME' });
    const result = await drainQueue(t.queue, {
      types: ['CANCELME'],
      maxJobs: 1,
      handler: async (job) => {
        await t.queue.cancelJob(job.id);
        return 'finished anyway';
      },
    });
    expect(result).toMatchObject({ lost: 1, processed: 0 });
    expect((await t.queue.getJob(id))!.status).toBe('CANCELLED');
  });
});

describe('concurrency keys', () => {
  it('never runs two jobs of one key at once; a batch takes one per key', async () => {
    await t.queue.enqueueMany([
      { jobType: 'K', concurrencyKey: 'project-a', payload: { n: 1 } },
      { jobType: 'K', concurrencyKey: 'project-a', payload: { n: 2 } },
      { jobType: 'K', concurrencyKey: 'project-b', payload: { n: 3 } },
      { jobType: 'K', payload: { n: 4 } },
    ]);
    const batch = await t.queue.claimJobs(['K'], 10);
    expect(batch.map((j) => j.concurrencyKey).sort()).toEqual(['project-a', 'project-b', null].sort());
    expect(await t.queue.claimJob(['K'])).toBeNull(); // the second project-a job waits
    await t.queue.completeJob(batch.find((j) => j.concurrencyKey === 'project-a')!);
    expect(await t.queue.claimJob(['K'])).toMatchObject({ concurrencyKey: 'project-a', payload: { n: 2 } });
  });

  it('holds under concurrent claimers on separate connections', async () => {
    const pg = (await import('pg')).default;
    await t.queue.enqueueMany(Array.from({ length: 60 }, (_, i) => ({ jobType: 'KC', concurrencyKey: `key-${i % 3}` })));
    await db.current.pool.query('CREATE TABLE IF NOT EXISTS key_overlap (key text, running int)');
    const workers = Array.from({ length: 8 }, () => {
      const pool = new pg.Pool({ connectionString: db.current.url, max: 1 });
      pool.on('error', () => {});
      return new DatabaseQueue({ pool });
    });
    try {
      await Promise.all(
        workers.map(async (w) => {
          for (let idle = 0; idle < 20;) {
            const job = await w.claimJob(['KC']);
            if (!job) {
              idle++;
              await new Promise((r) => setTimeout(r, 5));
              continue;
            }
            await w.pool.query(`INSERT INTO key_overlap SELECT $1, count(*) FROM job_queue WHERE status = 'PROCESSING' AND concurrency_key = $1`, [
              job.concurrencyKey,
            ]);
            await new Promise((r) => setTimeout(r, 2));
            await w.completeJob(job);
          }
        }),
      );
    } finally {
      await Promise.all(workers.map((w) => w.pool.end()));
    }
    await expectJobCount(db.current.pool, 60, "job_type = 'KC' AND status = 'COMPLETED'");
    const { rows } = await db.current.pool.query('SELECT max(running) AS max_running, count(*)::int AS n FROM key_overlap');
    expect(rows[0]).toEqual({ max_running: 1, n: 60 });
  });
});
