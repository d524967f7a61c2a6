/** typeStats(): what an operator reads per job type, from real claims and completions on a test clock. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseQueue, drainQueue, ManualClock } from 'pg-conveyor';
import { useTestDatabase } from './helpers/db';

const db = useTestDatabase();
let clock: ManualClock;
let queue: DatabaseQueue;

beforeAll(async () => {
  clock = new ManualClock(new Date());
  queue = new DatabaseQueue({ connectionString: db.current.url, poolMax: 2, clock, logger: false, backoff: { baseMs: 1_000, jitter: 0 } });
});
afterAll(async () => queue.close());

describe('typeStats()', () => {
  it('counts, the last hour’s completions, failures and run times, the longest due wait, limits and pauses, per type', async () => {
    // Four EMAIL jobs that ran 100, 200, 300 and 400 ms; one that failed for good.
    for (const ms of [100, 200, 300, 400]) {
      await queue.enqueue({ jobType: 'EMAIL' });
      const [job] = await queue.claimJobs(['EMAIL'], 1);
      clock.advance(ms);
      await queue.completeJob(job!, { ok: true });
    }
    await queue.enqueue({ jobType: 'EMAIL', maxAttempts: 1 });
    await queue.failJob((await queue.claimJobs(['EMAIL'], 1))[0]!, new Error('bounced'));
    // One finished two hours ago does not count in the hour.
    await queue.enqueue({ jobType: 'OLD' });
    await queue.completeJob((await queue.claimJobs(['OLD'], 1))[0]!, null);
    clock.advance(2 * 3_600_000);
    // Waiting: a REPORT due 90 s ago and one due in an hour; one running.
    await queue.enqueueMany([{ jobType: 'REPORT' }, { jobType: 'REPORT', delayMs: 3_600_000 }, { jobType: 'REPORT' }]);
    await queue.claimJobs(['REPORT'], 1);
    clock.advance(90_000);
    for (const ms of [100, 200, 300, 400]) {
      await queue.enqueue({ jobType: 'EMAIL' });
      const [job] = await queue.claimJobs(['EMAIL'], 1);
      clock.advance(ms);
      await queue.completeJob(job!, { ok: true });
    }
    await queue.setTypeLimits('REPORT', { concurrency: 2, rate: { limit: 10, periodMs: 60_000 } });
    await queue.pauseType('IMPORT');

    const stats = await queue.console.typeStats();
    expect(stats.map((s) => s.jobType)).toEqual(['EMAIL', 'IMPORT', 'REPORT']);
    const [email, imports, report] = stats;
    expect(email).toEqual({
      jobType: 'EMAIL',
      pending: 0,
      pendingAtLeast: false,
      processing: 0,
      completedLastHour: 4,
      failedLastHour: 0,
      failureRate: 0,
      p50Ms: 250,
      p95Ms: 385,
      oldestWaitingSeconds: null,
      limits: null,
      paused: false,
      handledAt: null,
      unhandled: false,
    });
    expect(imports).toMatchObject({ pending: 0, paused: true, failureRate: null });
    expect(report).toMatchObject({
      pending: 2,
      processing: 1,
      completedLastHour: 0,
      limits: { concurrency: 2, rate: { limit: 10, periodMs: 60_000 } },
      paused: false,
    });
    expect(report!.oldestWaitingSeconds).toBeCloseTo(91, 0); // the due one; the delayed one waits for nothing yet
    expect(report).toMatchObject({ unhandled: true, handledAt: null }); // jobs wait, and nothing has handled REPORT
  });

  it('a type with waiting jobs that no worker or drain has handled for 15 minutes is unhandled', async () => {
    await queue.enqueueMany([{ jobType: 'ORPHAN' }, { jobType: 'DRAINED' }]);
    const stat = async (type: string) => (await queue.console.typeStats()).find((t) => t.jobType === type)!;
    expect(await stat('ORPHAN')).toMatchObject({ unhandled: true, handledAt: null });
    await drainQueue(queue, { types: ['DRAINED'], handler: async () => 'ok', budgetMs: 1_000, maxJobs: 1 });
    await queue.enqueue({ jobType: 'DRAINED' });
    expect(await stat('DRAINED')).toMatchObject({ unhandled: false, handledAt: expect.any(Date) });
    await queue.noteHandledTypes(['ORPHAN']);
    expect(await stat('ORPHAN')).toMatchObject({ unhandled: false });
    clock.advance(16 * 60_000);
    expect(await stat('ORPHAN')).toMatchObject({ unhandled: true }); // handled once, not since
  });

  it('counts a type’s waiting jobs up to 10,000, then says "at least"', async () => {
    await db.current.pool.query(`INSERT INTO job_queue (job_type) SELECT 'BULK' FROM generate_series(1, 10001)`);
    const bulk = (await queue.console.typeStats()).find((t) => t.jobType === 'BULK')!;
    expect(bulk).toMatchObject({ pending: 10_000, pendingAtLeast: true });
  });
});
