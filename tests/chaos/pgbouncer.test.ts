/**
 * Through PgBouncer in transaction pooling mode: no session features (no prepared statements, no
 * LISTEN, no session settings). The queue, the serverless drain and the worker must all work.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseQueue } from 'pg-conveyor';
import { drainQueue } from 'pg-conveyor';
import { Worker } from 'pg-conveyor/worker';
import { cronRoute } from 'pg-conveyor/next';
import { serveRoute } from '../../packages/pg-conveyor/test/helpers/http-route';
import { until } from '../../packages/pg-conveyor/test/helpers/wait';
import { useTestDatabase } from '../../packages/pg-conveyor/test/helpers/db';
import { countJobs } from '../../packages/pg-conveyor/test/helpers/jobs';
import { sleep } from './chaos-helpers';
import { startPgbouncer, type Bouncer } from './pgbouncer';

const db = useTestDatabase();
let bouncer: Bouncer;
let queue: DatabaseQueue;

beforeAll(async () => {
  bouncer = await startPgbouncer(db.current.url);
  queue = new DatabaseQueue({ connectionString: bouncer.url, poolMax: 4, backoff: { baseMs: 0 } });
});
afterAll(async () => {
  await queue?.close();
  await bouncer?.stop();
});

describe('through PgBouncer (transaction pooling)', () => {
  it('enqueue, claim, complete, fail, dedupe, limits and stats work', async () => {
    const jobs = await queue.enqueueMany(Array.from({ length: 20 }, (_, i) => ({ jobType: 'PB', payload: { i } })));
    expect(jobs).toHaveLength(20);
    // Many statements on few server connections: prepared statements would collide here.
    for (let i = 0; i < 10; i++) await queue.completeJob((await queue.claimJob(['PB']))!, { i });
    const failing = (await queue.claimJob(['PB']))!;
    expect((await queue.failJob(failing, new Error('x'))).status).toBe('PENDING');
    const a = await queue.enqueue({ jobType: 'PB_D', dedupe: { key: 'once' } });
    expect((await queue.enqueue({ jobType: 'PB_D', dedupe: { key: 'once' } })).id).toBe(a.id);
    await queue.setTypeLimits('PB_L', { concurrency: 1 });
    await queue.enqueueMany([{ jobType: 'PB_L' }, { jobType: 'PB_L' }]);
    expect(await queue.claimJobs(['PB_L'], 5)).toHaveLength(1); // the limited claim's transaction
    expect((await queue.getQueueStats()).completed).toBe(10);
  });

  it('the serverless drain works through it', async () => {
    await queue.enqueueMany(Array.from({ length: 5 }, () => ({ jobType: 'PB_DRAIN' })));
    const result = await drainQueue(queue, { types: ['PB_DRAIN'], maxJobs: 10, handler: async () => 'ok' });
    expect(result).toMatchObject({ processed: 5, completed: 5, stoppedBy: 'empty' });
  });

  it('a fanned-out cron route works through it: slots, timers and the invocations it starts', async () => {
    process.env.CRON_SECRET = 'a-cron-secret-of-at-least-32-characters';
    await queue.enqueueMany(Array.from({ length: 60 }, () => ({ jobType: 'PB_FAN' })));
    await queue.enqueue({ jobType: 'PB_FAN', delayMs: 1_000 });
    const self = { url: '' };
    const GET = cronRoute({
      queue,
      budgetMs: 1_500,
      concurrency: 2,
      fanOut: { maxConcurrentInvocations: 3, url: () => self.url },
      handlers: { PB_FAN: () => new Promise((r) => setTimeout(() => r('ok'), 50)) },
    });
    const route = await serveRoute(GET);
    self.url = route.url;
    try {
      const first = await (await fetch(route.url, { headers: { authorization: `Bearer ${process.env.CRON_SECRET}` } })).json();
      expect(first.invocationsStarted).toBeGreaterThanOrEqual(1);
      await until(async () => (await countJobs(db.current.pool, "job_type = 'PB_FAN' AND status = 'COMPLETED'")) === 61, 30_000);
      await route.idle();
      await until(async () => (await countJobs(db.current.pool, "job_type = 'PB_FAN' AND status = 'PROCESSING'")) === 0, 5_000);
      expect(Number((await db.current.pool.query('SELECT count(*) FROM drain_slots WHERE holder IS NOT NULL')).rows[0].count)).toBe(0);
    } finally {
      await route.close();
      delete process.env.CRON_SECRET;
    }
  });

  it('the worker falls back to polling and still runs jobs', async () => {
    const worker = new Worker({ queue, connectionString: bouncer.url, pollIntervalMs: 50, handlers: { PB_W: { handler: async () => 'ok', concurrency: 2 } } });
    await worker.start();
    expect(worker.listening).toBe(false);
    await queue.enqueueMany(Array.from({ length: 10 }, () => ({ jobType: 'PB_W' })));
    for (let i = 0; i < 200 && (await countJobs(db.current.pool, "job_type = 'PB_W' AND status = 'COMPLETED'")) < 10; i++) await sleep(25);
    await worker.stop();
    expect(await countJobs(db.current.pool, "job_type = 'PB_W' AND status = 'COMPLETED'")).toBe(10);
  });
});
