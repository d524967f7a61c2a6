/**
 * Throughput history kept apart from the job rows: a retry or cleanup does not change what the
 * charts say happened, each outcome is counted exactly once (also when roll-ups and retries run at
 * once on real connections), and the 1h / 24h / 7d ranges and the type filter add up.
 */
import { describe, expect, it } from 'vitest';
import { DatabaseQueue, ManualClock, ValidationError } from 'pg-conveyor';
import { useQueue } from './helpers/queue';
import { countJobs } from './helpers/jobs';

const t = useQueue({ reset: true });
const db = t.db;

async function queueAt(clock: ManualClock) {
  return t.makeQueue({ poolMax: 8, clock, rescueIntervalMs: 0 });
}
const dbNow = async () => (await db.current.pool.query<{ now: Date }>('SELECT now()')).rows[0]!.now;
const totals = async (queue: DatabaseQueue, options: Parameters<DatabaseQueue['console']['getHistory']>[0] = {}) => {
  const h = await queue.console.getHistory(options);
  return h.points.reduce((t, p) => ({ completed: t.completed + p.completed, failed: t.failed + p.failed, cancelled: t.cancelled + p.cancelled }), {
    completed: 0,
    failed: 0,
    cancelled: 0,
  });
};

/** `n` jobs of `jobType` run to `outcome` at the clock's time. */
async function finish(queue: DatabaseQueue, jobType: string, n: number, outcome: 'complete' | 'fail') {
  await queue.enqueueMany(Array.from({ length: n }, () => ({ jobType, maxAttempts: 1 })));
  const jobs = await queue.claimJobs([jobType], n);
  if (outcome === 'complete')
    await queue.completeJobs(
      jobs,
      jobs.map(() => ({ ok: true })),
    );
  else
    await queue.failJobs(
      jobs,
      jobs.map(() => new Error('boom')),
    );
}

describe('history apart from the job rows', () => {
  it('a retried failure stays in the history, counted once, whether or not it was rolled up before the retry', async () => {
    const clock = new ManualClock(await dbNow());
    const queue = await queueAt(clock);
    await finish(queue, 'MAIL', 3, 'fail');
    await finish(queue, 'MAIL', 2, 'complete');
    expect(await totals(queue)).toEqual({ completed: 2, failed: 3, cancelled: 0 });

    // Retried while its minute is still live (not rolled up): the retry counts it.
    const [first] = (await queue.console.findJobs({ status: 'FAILED' })).jobs;
    await queue.retryJob(first!.id);
    expect(await totals(queue)).toEqual({ completed: 2, failed: 3, cancelled: 0 });

    // Two minutes on, the roll-up has counted the rest; retrying them counts nothing twice.
    clock.advance(150_000);
    expect(await totals(queue)).toEqual({ completed: 2, failed: 3, cancelled: 0 });
    const bulk = await queue.console.startBulkAction({ action: 'retry', filter: { status: 'FAILED' } });
    expect(bulk.affected).toBe(2);
    expect(await totals(queue)).toEqual({ completed: 2, failed: 3, cancelled: 0 });
    // The retried jobs then complete: new outcomes, counted as such.
    const again = await queue.claimJobs(['MAIL'], 10);
    expect(again).toHaveLength(3);
    await queue.completeJobs(
      again,
      again.map(() => ({ ok: true })),
    );
    expect(await totals(queue)).toEqual({ completed: 5, failed: 3, cancelled: 0 });
  });

  it('cleanup deletes only counted jobs, and throughput survives it', async () => {
    const clock = new ManualClock(await dbNow());
    const queue = await queueAt(clock);
    await finish(queue, 'REPORT', 4, 'complete');
    expect(await queue.cleanup(0)).toBe(0); // finished this minute: not counted yet, so kept
    expect(await countJobs(db.current.pool)).toBe(4);
    clock.advance(150_000);
    expect(await queue.cleanup(0)).toBe(4);
    expect(await countJobs(db.current.pool)).toBe(0);
    expect(await totals(queue)).toEqual({ completed: 4, failed: 0, cancelled: 0 });
    expect((await queue.console.getThroughput(60)).reduce((n, p) => n + p.completed, 0)).toBe(4);
    // A bulk delete of finished jobs not yet counted counts them first.
    await finish(queue, 'REPORT', 2, 'fail');
    expect(await queue.console.startBulkAction({ action: 'delete', filter: { jobType: 'REPORT' } })).toMatchObject({ affected: 2 });
    expect(await totals(queue, { jobType: 'REPORT' })).toEqual({ completed: 4, failed: 2, cancelled: 0 });
  });

  it('roll-ups racing retries on real connections still count each failure exactly once', async () => {
    const clock = new ManualClock(await dbNow());
    const queue = await queueAt(clock);
    await finish(queue, 'RACE', 200, 'fail');
    clock.advance(150_000);
    const ids = (await queue.console.findJobs({ status: 'FAILED' }, { limit: 200 })).jobs.map((j) => j.id);
    await Promise.all([...ids.map((id) => queue.retryJob(id)), ...Array.from({ length: 20 }, () => queue.console.getHistory())]);
    expect(await countJobs(db.current.pool, "status = 'PENDING'")).toBe(200);
    expect(await totals(queue)).toEqual({ completed: 0, failed: 200, cancelled: 0 });
  });

  it('works on a pool of one connection (a serverless function’s): the roll-up asks for nothing outside its transaction', async () => {
    const single = t.makeQueue({ poolMax: 1 });
    await single.enqueue({ jobType: 'ONE' });
    await single.completeJob((await single.claimJobs(['ONE'], 1))[0]!, null);
    expect(await totals(single)).toEqual({ completed: 1, failed: 0, cancelled: 0 });
    expect(await single.cleanup(0)).toBe(0);
    expect((await single.console.getThroughput(60)).reduce((n, p) => n + p.completed, 0)).toBe(1);
  });

  it('24h and 7d ranges bucket by 15 minutes and an hour; a type filter narrows; a bad range or type is refused', async () => {
    const start = await dbNow();
    const clock = new ManualClock(new Date(start.getTime() - 3 * 3_600_000));
    const queue = await queueAt(clock);
    await finish(queue, 'A', 5, 'complete'); // three hours ago
    clock.set(start);
    await finish(queue, 'B', 2, 'fail');
    await finish(queue, 'A', 1, 'complete');
    expect(await totals(queue, { range: '1h' })).toEqual({ completed: 1, failed: 2, cancelled: 0 });
    const day = await queue.console.getHistory({ range: '24h' });
    expect(day.bucketMinutes).toBe(15);
    expect(day.points.every((p) => p.at.getTime() % (15 * 60_000) === 0)).toBe(true);
    expect(await totals(queue, { range: '24h' })).toEqual({ completed: 6, failed: 2, cancelled: 0 });
    expect(await totals(queue, { range: '7d', jobType: 'A' })).toEqual({ completed: 6, failed: 0, cancelled: 0 });
    expect((await queue.console.getHistory({ range: '7d' })).bucketMinutes).toBe(60);
    await expect(queue.console.getHistory({ range: '1y' as never })).rejects.toThrow(ValidationError);
    await expect(queue.console.getHistory({ range: 'constructor' as never })).rejects.toThrow(ValidationError); // not a key of the ranges' object
    await expect(queue.console.getHistory({ jobType: 'not a type!' })).rejects.toThrow(ValidationError);
  });
});
