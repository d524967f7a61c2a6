/**
 * Drains take the Worker's registry: batch handlers, per-type timeouts, and `concurrency` jobs
 * at once within one invocation (cronRoute passes both through).
 */
import { describe, expect, it } from 'vitest';
import { drainQueue, type Job } from 'pg-conveyor';
import { cronRoute } from 'pg-conveyor/next';
import { useQueue } from './helpers/queue';

const t = useQueue({ reset: true });

/** A handler that waits until `width` of its calls run at once (or `waitMs`), and records the peak. */
function overlapping(width: number, waitMs = 3_000) {
  let running = 0;
  let peak = 0;
  let release: () => void = () => {};
  const wide = new Promise<void>((resolve) => (release = resolve));
  const handler = async () => {
    running++;
    peak = Math.max(peak, running);
    if (running >= width) release();
    await Promise.race([wide, new Promise((resolve) => setTimeout(resolve, waitMs))]);
    running--;
    return 'ok';
  };
  return { handler, peak: () => peak };
}

describe('drains run the whole registry', () => {
  it('`concurrency` runs that many jobs at once; without it, one at a time', async () => {
    await t.queue.enqueueMany(Array.from({ length: 8 }, () => ({ jobType: 'WIDE' })));
    const four = overlapping(4);
    const result = await drainQueue(t.queue, { handlers: { WIDE: four.handler }, concurrency: 4, maxJobs: 4 });
    expect(result).toMatchObject({ processed: 4, completed: 4, stoppedBy: 'maxJobs' });
    expect(four.peak()).toBe(4);

    const single = overlapping(2, 50);
    const rest = await drainQueue(t.queue, { types: ['WIDE'], handler: single.handler, budgetMs: 30_000 });
    expect(rest).toMatchObject({ processed: 4, completed: 4, stoppedBy: 'empty' });
    expect(single.peak()).toBe(1);
  });

  it('maxJobs holds across concurrent slots, and the rest stay PENDING', async () => {
    await t.queue.enqueueMany(Array.from({ length: 10 }, () => ({ jobType: 'CAPPED' })));
    const result = await drainQueue(t.queue, { handlers: { CAPPED: async () => 'ok' }, concurrency: 4, maxJobs: 3 });
    expect(result).toMatchObject({ processed: 3, completed: 3, stoppedBy: 'maxJobs' });
    expect(await t.queue.getQueueStats()).toMatchObject({ pending: 7, processing: 0, completed: 3 });
  });

  it('a batch handler gets up to its size of one type per call, beside per-job handlers', async () => {
    await t.queue.enqueueMany([...Array.from({ length: 5 }, (_, i) => ({ jobType: 'SMS', payload: { n: i } })), { jobType: 'MAIL' }]);
    const batches: number[][] = [];
    const result = await drainQueue(t.queue, {
      handlers: {
        SMS: {
          batch: { size: 2, handler: async (jobs: Job<{ n: number }>[]) => (batches.push(jobs.map((j) => j.payload!.n)), jobs.map((j) => j.payload!.n * 10)) },
        },
        MAIL: async () => 'sent',
      },
    });
    expect(result).toMatchObject({ processed: 6, completed: 6, stoppedBy: 'empty' });
    expect(batches.flat().sort()).toEqual([0, 1, 2, 3, 4]);
    expect(Math.max(...batches.map((b) => b.length))).toBe(2);
    expect(batches.length).toBe(3);
    const sms = await t.queue.listJobs({ jobType: 'SMS' });
    expect(sms.map((j) => j.result).sort()).toEqual([0, 10, 20, 30, 40]);
  });

  it("a task's own timeoutMs applies inside the drain's budget", async () => {
    const job = await t.queue.enqueue({ jobType: 'SLOW', maxAttempts: 1 });
    const started = Date.now();
    const result = await drainQueue(t.queue, {
      handlers: {
        SLOW: { timeoutMs: 200, handler: (_job, { signal }) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))) },
      },
      budgetMs: 20_000,
    });
    expect(result).toMatchObject({ failed: 1, stoppedBy: 'empty' });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await t.queue.getJob(job.id))!.errors[0]!.message).toMatch(/JobTimeoutError/);
  });

  it('cronRoute passes batch handlers and concurrency through, and refuses a bad registry when built', async () => {
    process.env.CRON_SECRET = 'a-cron-secret-of-at-least-32-characters';
    try {
      await t.queue.enqueueMany(Array.from({ length: 4 }, () => ({ jobType: 'ROUTE_BATCH' })));
      const wide = overlapping(2);
      await t.queue.enqueueMany(Array.from({ length: 2 }, () => ({ jobType: 'ROUTE_WIDE' })));
      const GET = cronRoute({
        queue: t.queue,
        concurrency: 2,
        logger: false,
        handlers: { ROUTE_BATCH: { batch: { size: 4, handler: async () => {} } }, ROUTE_WIDE: wide.handler },
      });
      const response = await GET(new Request('http://localhost/api/cron', { headers: { authorization: `Bearer ${process.env.CRON_SECRET}` } }));
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ completed: 6, stoppedBy: 'empty' });
      expect(wide.peak()).toBe(2);
    } finally {
      delete process.env.CRON_SECRET;
    }
    expect(() => cronRoute({ queue: t.queue, handlers: { BAD: { batch: { size: 0, handler: async () => {} } } } })).toThrow(/batchSize/);
    expect(() => cronRoute({ queue: t.queue, handlers: { 'no spaces': async () => null } })).toThrow(/jobType|job type/i);
  });
});
