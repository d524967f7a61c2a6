/**
 * Outcomes a handler cannot spoil: a result or follow-up that cannot be stored fails the attempt
 * with the reason in the job's errors (the retry rules apply), and the Worker and the drains go
 * on; whatever a handler throws is stored as readable text.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { drainQueue, type JobHandler } from 'pg-conveyor';
import { cronRoute } from 'pg-conveyor/next';
import { Worker } from 'pg-conveyor/worker';
import { useQueue } from './helpers/queue';
import { until } from './helpers/wait';

const t = useQueue({ reset: true });
const workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
});

const circular = () => {
  const value: Record<string, unknown> = { name: 'loop' };
  value.self = value;
  return value;
};

/** A handler per way of returning what cannot be stored, with the reason each leaves behind. */
const SPOILERS: Record<string, { handler: JobHandler; reason: RegExp }> = {
  BIGINT: { handler: async () => ({ total: 10n }), reason: /could not be stored: Invalid result: not JSON-serializable.*BigInt/ },
  CIRCULAR: { handler: async () => circular(), reason: /could not be stored: Invalid result: not JSON-serializable.*circular/i },
  HUGE: { handler: async () => ({ blob: 'x'.repeat(2 * 1_048_576) }), reason: /could not be stored: Invalid result: \d+ bytes exceeds the limit of 1048576/ },
  BAD_FOLLOW_UP: {
    handler: async (_job, ctx) => {
      ctx.enqueueOnComplete({ jobType: 'not a type!' });
      return { ok: true };
    },
    reason: /could not be stored: Invalid job #0: jobType/,
  },
};
const SPOILED_TYPES = Object.keys(SPOILERS);

async function enqueueSpoilers(maxAttempts: number) {
  const jobs = await t.queue.enqueueMany(SPOILED_TYPES.map((jobType) => ({ jobType, maxAttempts })));
  return Object.fromEntries(jobs.map((job) => [job.jobType, job.id]));
}

async function expectFailedWithReason(ids: Record<string, string>, status: 'FAILED' | 'PENDING') {
  for (const [type, id] of Object.entries(ids)) {
    const job = (await t.queue.getJob(id))!;
    expect(job.status, type).toBe(status);
    expect(job.errors[0]?.message, type).toMatch(SPOILERS[type]!.reason);
    expect(job.result, 'the failure, not the unstorable value').toEqual(status === 'FAILED' ? { error: job.errors[0]!.message } : null);
  }
}

describe('a result the queue cannot store', () => {
  it('under the Worker: each such job fails within a second with the reason, and the worker goes on', async () => {
    const ids = await enqueueSpoilers(1);
    const good = await t.queue.enqueue({ jobType: 'GOOD' });
    const handlers = Object.fromEntries(SPOILED_TYPES.map((type) => [type, SPOILERS[type]!.handler]));
    const worker = new Worker({ queue: t.queue, connectionString: t.db.current.url, handlers: { ...handlers, GOOD: async () => 'fine' }, logger: false });
    workers.push(worker);
    const started = Date.now();
    await worker.start();
    await until(async () => (await t.queue.getQueueStats()).failed === SPOILED_TYPES.length && (await t.queue.getJob(good.id))!.status === 'COMPLETED', 5_000);
    expect(Date.now() - started).toBeLessThan(1_000 + 500);
    await expectFailedWithReason(ids, 'FAILED');
    expect((await t.queue.getJob(good.id))!.result).toBe('fine');
  });

  it('with attempts left, the job waits for its retry like any failure', async () => {
    const ids = await enqueueSpoilers(3);
    const result = await drainQueue(t.queue, {
      types: SPOILED_TYPES,
      handler: (job, ctx) => SPOILERS[job.jobType]!.handler(job, ctx),
      budgetMs: 10_000,
    });
    expect(result).toMatchObject({ processed: 4, completed: 0, failed: 4 });
    await expectFailedWithReason(ids, 'PENDING');
  });

  it('under a cron route: the tick answers 200 with the other jobs done', async () => {
    process.env.CRON_SECRET = 'a-cron-secret-of-at-least-32-characters';
    try {
      const ids = await enqueueSpoilers(1);
      await t.queue.enqueueMany([{ jobType: 'GOOD' }, { jobType: 'GOOD' }]);
      const GET = cronRoute({
        queue: () => t.queue,
        handlers: { ...Object.fromEntries(SPOILED_TYPES.map((type) => [type, SPOILERS[type]!.handler])), GOOD: async () => 'fine' },
      });
      const response = await GET(new Request('http://localhost/api/cron', { headers: { authorization: `Bearer ${process.env.CRON_SECRET}` } }));
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ completed: 2, failed: 4 });
      await expectFailedWithReason(ids, 'FAILED');
    } finally {
      delete process.env.CRON_SECRET;
    }
  });

  it('in a batch: only the job whose result cannot be stored fails; the rest complete', async () => {
    const jobs = await t.queue.enqueueMany([0, 1, 2].map((n) => ({ jobType: 'BATCH', payload: { n }, maxAttempts: 1 })));
    const worker = new Worker({
      queue: t.queue,
      connectionString: t.db.current.url,
      logger: false,
      handlers: {
        BATCH: { batch: { size: 3, handler: async (batch) => batch.map((job) => ((job.payload as { n: number }).n === 1 ? { n: 1n } : { ok: true })) } },
      },
    });
    workers.push(worker);
    await worker.start();
    await until(async () => (await t.queue.getQueueStats()).pending + (await t.queue.getQueueStats()).processing === 0, 5_000);
    const [first, second, third] = await Promise.all(jobs.map((job) => t.queue.getJob(job.id)));
    expect([first!.status, second!.status, third!.status]).toEqual(['COMPLETED', 'FAILED', 'COMPLETED']);
    expect(second!.errors[0]!.message).toMatch(/could not be stored: Invalid result: not JSON-serializable/);
  });
});

describe('what a handler throws', () => {
  it('is stored as readable text, whatever it is', async () => {
    const thrown: Record<string, unknown> = { STRING: 'plain words', OBJECT: { code: 42, reason: 'quota' }, CIRCULAR: circular(), NUMBER: 7, NULL: null };
    const jobs = await t.queue.enqueueMany(Object.keys(thrown).map((jobType) => ({ jobType, maxAttempts: 1 })));
    await drainQueue(t.queue, {
      types: Object.keys(thrown),
      handler: async (job) => {
        throw thrown[job.jobType];
      },
      budgetMs: 10_000,
    });
    const messages = Object.fromEntries(await Promise.all(jobs.map(async (job) => [job.jobType, (await t.queue.getJob(job.id))!.errors[0]!.message])));
    expect(messages).toEqual({
      STRING: 'plain words',
      OBJECT: '{"code":42,"reason":"quota"}',
      CIRCULAR: "<ref *1> { name: 'loop', self: [Circular *1] }",
      NUMBER: '7',
      NULL: 'null',
    });
  });
});
