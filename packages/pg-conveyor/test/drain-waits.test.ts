import { beforeEach, describe, expect, it } from 'vitest';
import { drainQueue, type BacklogReport } from 'pg-conveyor';
import { useQueue } from './helpers/queue';
import { expectJobCount } from './helpers/jobs';

const t = useQueue();
const db = t.db;

beforeEach(() => t.reset());

describe('a drain with nothing to claim', () => {
  it('keeps its other slots going while a running job may enqueue follow-ups (a chain of 6 with concurrency 4)', async () => {
    await t.queue.enqueue({ jobType: 'STEP', payload: { n: 1 } });
    const result = await drainQueue(t.queue, {
      types: ['STEP'],
      concurrency: 4,
      budgetMs: 10_000,
      handler: async (job, ctx) => {
        const n = (job.payload as { n: number }).n;
        await new Promise((r) => setTimeout(r, 50)); // the idle slots look, find nothing, and must not end the drain
        if (n < 6) ctx.enqueueOnComplete({ jobType: 'STEP', payload: { n: n + 1 } });
        return n;
      },
    });
    expect(result).toMatchObject({ completed: 6, stoppedBy: 'empty', remaining: { due: 0, nextInMs: null } });
  });

  it('waits inside its budget for a job coming due, and runs it', async () => {
    const { id } = await t.queue.enqueue({ jobType: 'LATER', delayMs: 1_200 });
    const started = Date.now();
    const result = await drainQueue(t.queue, { types: ['LATER'], budgetMs: 5_000, minTimeToClaimMs: 200, handler: async () => 'ran' });
    const elapsed = Date.now() - started;
    expect(result).toMatchObject({ completed: 1, stoppedBy: 'empty' });
    expect(elapsed).toBeGreaterThanOrEqual(1_000);
    expect(elapsed).toBeLessThan(3_500);
    expect((await t.queue.getJob(id))!.status).toBe('COMPLETED');
  });

  it('does not wait for a job due after its budget, and says when it is due', async () => {
    await t.queue.enqueue({ jobType: 'LATER', delayMs: 20_000 });
    const started = Date.now();
    const result = await drainQueue(t.queue, { types: ['LATER'], budgetMs: 3_000, handler: async () => 'ran' });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(result).toMatchObject({ processed: 0, stoppedBy: 'empty' });
    expect(result.remaining!.nextInMs).toBeGreaterThan(18_000);
    expect(result.remaining!.nextInMs).toBeLessThanOrEqual(20_000);
  });

  it('with waitForTimers: false, returns at once', async () => {
    await t.queue.enqueue({ jobType: 'LATER', delayMs: 1_000 });
    const started = Date.now();
    const result = await drainQueue(t.queue, { types: ['LATER'], budgetMs: 5_000, waitForTimers: false, handler: async () => 'ran' });
    expect(Date.now() - started).toBeLessThan(700);
    expect(result).toMatchObject({ processed: 0, stoppedBy: 'empty' });
    expect(result.remaining!.nextInMs).toBeGreaterThan(0);
  });

  it('runs a retry whose backoff ends inside the budget', async () => {
    const queue = t.makeQueue({ backoff: { baseMs: 500, maxMs: 500, jitter: 0 } });
    const { id } = await queue.enqueue({ jobType: 'FLAKY', maxAttempts: 2 });
    let calls = 0;
    const result = await drainQueue(queue, {
      types: ['FLAKY'],
      budgetMs: 5_000,
      minTimeToClaimMs: 200,
      handler: async () => {
        if (++calls === 1) throw new Error('first attempt fails');
        return 'second works';
      },
    });
    expect(result).toMatchObject({ failed: 1, completed: 1, stoppedBy: 'empty' });
    expect((await queue.getJob(id))!).toMatchObject({ status: 'COMPLETED', attempts: 2 });
  });

  it('does not wait for a paused type’s jobs', async () => {
    await t.queue.enqueue({ jobType: 'HELD', delayMs: 800 });
    await t.queue.pauseType('HELD');
    const started = Date.now();
    const result = await drainQueue(t.queue, { types: ['HELD'], budgetMs: 5_000, handler: async () => 'ran' });
    expect(Date.now() - started).toBeLessThan(600);
    expect(result).toMatchObject({ processed: 0, remaining: { due: 0, nextInMs: null } });
  });
});

describe('maxJobsByType', () => {
  it('claims at most that many of a type and goes on with the others', async () => {
    await t.queue.enqueueMany([...Array.from({ length: 5 }, () => ({ jobType: 'CAPPED' })), ...Array.from({ length: 3 }, () => ({ jobType: 'FREE' }))]);
    const result = await drainQueue(t.queue, { types: ['CAPPED', 'FREE'], maxJobsByType: { CAPPED: 2 }, concurrency: 3, handler: async () => 'ok' });
    expect(result).toMatchObject({ completed: 5, stoppedBy: 'maxJobs', remaining: { due: 3 } });
    await expectJobCount(db.current.pool, 2, "job_type = 'CAPPED' AND status = 'COMPLETED'");
    await expectJobCount(db.current.pool, 3, "job_type = 'FREE' AND status = 'COMPLETED'");
  });
});

describe('onBacklog', () => {
  it('is told how many invocations a backlog larger than the drain needs', async () => {
    await t.queue.enqueueMany(Array.from({ length: 40 }, () => ({ jobType: 'BIG' })));
    const reports: BacklogReport[] = [];
    const result = await drainQueue(t.queue, {
      types: ['BIG'],
      concurrency: 2,
      budgetMs: 1_500,
      minTimeToClaimMs: 100,
      onBacklog: (report) => void reports.push(report),
      handler: () => new Promise((r) => setTimeout(() => r('ok'), 200)),
    });
    // At about 10 jobs a second with 1.5 s, this drain can do about 15 of the 40.
    expect(result.stoppedBy).toBe('budget');
    // The first weighing comes before any job finished (its claims may already have taken a few).
    expect(reports[0]!.due).toBeGreaterThanOrEqual(36);
    expect(reports[0]!.invocationsWanted).toBe(2);
    expect(reports.length).toBeGreaterThanOrEqual(2);
    expect(reports.at(-1)!.invocationsWanted).toBeGreaterThan(2);
    expect(result.remaining!.due).toBeGreaterThan(10);
  });

  it('is not told anything when nothing is due', async () => {
    let told = 0;
    await t.queue.enqueue({ jobType: 'LATER', delayMs: 60_000 });
    const result = await drainQueue(t.queue, { types: ['LATER', 'NONE'], budgetMs: 3_000, onBacklog: () => void told++, handler: async () => 'ok' });
    expect(result.stoppedBy).toBe('empty');
    expect(told).toBe(0);
  });

  it('a failing onBacklog changes nothing in the drain', async () => {
    await t.queue.enqueueMany(Array.from({ length: 6 }, () => ({ jobType: 'BIG' })));
    const result = await drainQueue(t.queue, {
      types: ['BIG'],
      onBacklog: () => {
        throw new Error('fan-out broken');
      },
      handler: async () => 'ok',
    });
    expect(result).toMatchObject({ completed: 6, stoppedBy: 'empty' });
  });
});

describe('pendingOutlook', () => {
  it('counts due jobs of the given types, not paused, up to 1,000 per type and priority, and the next one coming due', async () => {
    await db.current.pool.query(`INSERT INTO job_queue (job_type, priority) SELECT 'MANY', g % 2 FROM generate_series(1, 2500) g`);
    await t.queue.enqueueMany([{ jobType: 'FEW' }, { jobType: 'FEW', delayMs: 5_000 }, { jobType: 'OTHER' }, { jobType: 'PAUSED' }]);
    await t.queue.pauseType('PAUSED');
    expect(await t.queue.pendingOutlook(['MANY'])).toEqual({ due: 2000, nextInMs: null });
    const few = await t.queue.pendingOutlook(['FEW', 'PAUSED', 'UNKNOWN']);
    expect(few.due).toBe(1);
    expect(few.nextInMs).toBeGreaterThan(4_000);
    expect(few.nextInMs).toBeLessThanOrEqual(5_000);
  });
});
