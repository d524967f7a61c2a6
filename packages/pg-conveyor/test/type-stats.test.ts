/** typeStats(): what an operator reads per job type, from real claims and completions on a test clock. */
import { describe, expect, it } from 'vitest';
import { drainQueue, ManualClock } from 'pg-conveyor';
import { useQueue } from './helpers/queue';

const clock = new ManualClock(new Date());
const t = useQueue({ poolMax: 2, clock, backoff: { baseMs: 1_000, jitter: 0 } });
const db = t.db;

describe('typeStats()', () => {
  it('counts, the last hour’s completions, failures and run times, the longest due wait, limits and pauses, per type', async () => {
    // Four EMAIL jobs that ran 100, 200, 300 and 400 ms; one that failed for good.
    for (const ms of [100, 200, 300, 400]) {
      await t.queue.enqueue({ jobType: 'EMAIL' });
      const [job] = await t.queue.claimJobs(['EMAIL'], 1);
      clock.advance(ms);
      await t.queue.completeJob(job!, { ok: true });
    }
    await t.queue.enqueue({ jobType: 'EMAIL', maxAttempts: 1 });
    await t.queue.failJob((await t.queue.claimJobs(['EMAIL'], 1))[0]!, new Error('bounced'));
    // One finished two hours ago does not count in the hour.
    await t.queue.enqueue({ jobType: 'OLD' });
    await t.queue.completeJob((await t.queue.claimJobs(['OLD'], 1))[0]!, null);
    clock.advance(2 * 3_600_000);
    // Waiting: a REPORT due 90 s ago and one due in an hour; one running.
    await t.queue.enqueueMany([{ jobType: 'REPORT' }, { jobType: 'REPORT', delayMs: 3_600_000 }, { jobType: 'REPORT' }]);
    await t.queue.claimJobs(['REPORT'], 1);
    clock.advance(90_000);
    for (const ms of [100, 200, 300, 400]) {
      await t.queue.enqueue({ jobType: 'EMAIL' });
      const [job] = await t.queue.claimJobs(['EMAIL'], 1);
      clock.advance(ms);
      await t.queue.completeJob(job!, { ok: true });
    }
    await t.queue.setTypeLimits('REPORT', { concurrency: 2, rate: { limit: 10, periodMs: 60_000 } });
    await t.queue.pauseType('IMPORT');

    const stats = await t.queue.console.typeStats();
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
    await t.queue.enqueueMany([{ jobType: 'ORPHAN' }, { jobType: 'DRAINED' }]);
    const stat = async (type: string) => (await t.queue.console.typeStats()).find((t) => t.jobType === type)!;
    expect(await stat('ORPHAN')).toMatchObject({ unhandled: true, handledAt: null });
    await drainQueue(t.queue, { types: ['DRAINED'], handler: async () => 'ok', budgetMs: 1_000, maxJobs: 1 });
    await t.queue.enqueue({ jobType: 'DRAINED' });
    expect(await stat('DRAINED')).toMatchObject({ unhandled: false, handledAt: expect.any(Date) });
    await t.queue.noteHandledTypes(['ORPHAN']);
    expect(await stat('ORPHAN')).toMatchObject({ unhandled: false });
    clock.advance(16 * 60_000);
    expect(await stat('ORPHAN')).toMatchObject({ unhandled: true }); // handled once, not since
  });

  it('counts a type’s waiting jobs up to 10,000, then says "at least"', async () => {
    await db.current.pool.query(`INSERT INTO job_queue (job_type) SELECT 'BULK' FROM generate_series(1, 10001)`);
    const bulk = (await t.queue.console.typeStats()).find((t) => t.jobType === 'BULK')!;
    expect(bulk).toMatchObject({ pending: 10_000, pendingAtLeast: true });
  });
});
