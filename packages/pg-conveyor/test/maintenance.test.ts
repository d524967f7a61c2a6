import { describe, expect, it } from 'vitest';
import { DatabaseQueue, ManualClock, ValidationError } from 'pg-conveyor';
import { useQueue } from './helpers/queue';
import { expectJobCount, insertJob, jobRow } from './helpers/jobs';

const t = useQueue({ random: () => 0.5, reset: true });
const db = t.db;

describe('lease rescue', () => {
  it('returns an expired PROCESSING job to PENDING with the backoff of its attempt', async () => {
    const id = await insertJob(db.current.pool, { status: 'PROCESSING', attempts: 1, lockedUntilOffsetS: -1 });
    const live = await insertJob(db.current.pool, { status: 'PROCESSING', attempts: 1, lockedUntilOffsetS: 60 });
    expect(await t.queue.rescueExpired()).toBe(1);
    const row = await jobRow(db.current.pool, id);
    expect(row).toMatchObject({ status: 'PENDING', attempts: 1, locked_until: null, locked_by: null });
    const { rows } = await db.current.pool.query<{ delay: number }>(
      'SELECT extract(epoch FROM run_at - updated_at)::float8 AS delay FROM job_queue WHERE id = $1',
      [id],
    );
    expect(rows[0]!.delay).toBeCloseTo(10, 0);
    expect(row.errors[0]).toMatchObject({ attempt: 1, kind: 'lease_expired' });
    expect((await jobRow(db.current.pool, live)).status).toBe('PROCESSING');
  });

  it('fails an expired job whose last attempt it was', async () => {
    const id = await insertJob(db.current.pool, { status: 'PROCESSING', attempts: 3, maxAttempts: 3, lockedUntilOffsetS: -5 });
    await t.queue.rescueExpired();
    expect(await jobRow(db.current.pool, id)).toMatchObject({ status: 'FAILED', result: { error: 'lease expired' } });
  });

  it('the claim path rescues, at most once per rescueIntervalMs', async () => {
    const clock = new ManualClock();
    const q = new DatabaseQueue({ pool: db.current.pool, rescueIntervalMs: 60_000, backoff: { baseMs: 0 }, clock });
    const { rows } = await db.current.pool.query<{ now: Date }>('SELECT now()');
    clock.set(rows[0]!.now);
    await insertJob(db.current.pool, { jobType: 'R', status: 'PROCESSING', attempts: 1, lockedUntilOffsetS: -1 });
    // The claim rescues first (back to PENDING, runnable at once with a zero backoff), then claims it.
    expect(await q.claimJob(['R'])).toMatchObject({ attempts: 2 });

    await insertJob(db.current.pool, { jobType: 'R2', status: 'PROCESSING', attempts: 1, lockedUntilOffsetS: -1 });
    expect(await q.claimJob(['R2'])).toBeNull(); // interval not elapsed: no rescue yet
  });
});

describe('cleanup', () => {
  it('deletes only finished jobs older than the retention, and says how many', async () => {
    const day = 86_400;
    const oldCompleted = await insertJob(db.current.pool, { status: 'COMPLETED', completedAtOffsetS: -8 * day });
    const oldFailed = await insertJob(db.current.pool, { status: 'FAILED', completedAtOffsetS: -8 * day });
    const oldCancelled = await insertJob(db.current.pool, { status: 'CANCELLED', completedAtOffsetS: -8 * day });
    await insertJob(db.current.pool, { status: 'COMPLETED', completedAtOffsetS: -6 * day });
    await insertJob(db.current.pool, { status: 'PENDING', createdAtOffsetS: -30 * day });
    await insertJob(db.current.pool, { status: 'PROCESSING', createdAtOffsetS: -30 * day });
    expect(await t.queue.cleanup()).toBe(3);
    for (const id of [oldCompleted, oldFailed, oldCancelled]) expect(await t.queue.getJob(id)).toBeNull();
    await expectJobCount(db.current.pool, 3);
    expect(await t.queue.cleanup(5)).toBe(1);
    await expectJobCount(db.current.pool, 2, "status IN ('PENDING', 'PROCESSING')");
  });

  it('works through more rows than one batch', async () => {
    await db.current.pool.query(
      `INSERT INTO job_queue (job_type, status, completed_at, attempts)
       SELECT 'OLD', 'COMPLETED', now() - interval '10 days', 1 FROM generate_series(1, 2500)`,
    );
    expect(await t.queue.cleanup(7)).toBe(2500);
  });

  it('refuses a negative or non-numeric age', async () => {
    await expect(t.queue.cleanup(-1)).rejects.toBeInstanceOf(ValidationError);
    await expect(t.queue.cleanup('7' as never)).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('stats and lists', () => {
  it('getQueueStats counts each status', async () => {
    for (const [status, n] of [
      ['PENDING', 3],
      ['PROCESSING', 2],
      ['COMPLETED', 4],
      ['FAILED', 1],
      ['CANCELLED', 2],
    ] as const) {
      for (let i = 0; i < n; i++) await insertJob(db.current.pool, { status });
    }
    expect(await t.queue.getQueueStats()).toEqual({ pending: 3, processing: 2, completed: 4, failed: 1, cancelled: 2, estimated: false });
  });

  it('getQueueStats is all zeros on an empty queue', async () => {
    expect(await t.queue.getQueueStats()).toEqual({ pending: 0, processing: 0, completed: 0, failed: 0, cancelled: 0, estimated: false });
  });

  it('listJobs filters by status and type, newest first, capped at 100', async () => {
    const a = await insertJob(db.current.pool, { jobType: 'A', status: 'FAILED', createdAtOffsetS: -30 });
    const b = await insertJob(db.current.pool, { jobType: 'A', status: 'FAILED', createdAtOffsetS: -10 });
    await insertJob(db.current.pool, { jobType: 'B', status: 'FAILED' });
    await insertJob(db.current.pool, { jobType: 'A', status: 'PENDING' });
    expect((await t.queue.listJobs({ status: 'FAILED', jobType: 'A' })).map((j) => j.id)).toEqual([b, a]);
    expect(await t.queue.listJobs({ limit: 2 })).toHaveLength(2);
    await expect(t.queue.listJobs({ limit: 101 })).rejects.toBeInstanceOf(ValidationError);
    await expect(t.queue.listJobs({ status: 'DONE' as never })).rejects.toBeInstanceOf(ValidationError);
  });

  it('oldestPendingJob gives the due job that has waited longest, across types and priorities', async () => {
    expect(await t.queue.oldestPendingJob()).toBeNull();
    await insertJob(db.current.pool, { status: 'COMPLETED', runAtOffsetS: -9_000 });
    // Delayed an hour, created long ago: not due, so not waiting.
    await insertJob(db.current.pool, { jobType: 'A', priority: 5, createdAtOffsetS: -7_200, runAtOffsetS: 3_600 });
    await insertJob(db.current.pool, { jobType: 'A', priority: 5, runAtOffsetS: -60 });
    await insertJob(db.current.pool, { jobType: 'A', priority: 0, runAtOffsetS: -120 });
    const oldest = await insertJob(db.current.pool, { jobType: 'B', priority: -3, runAtOffsetS: -600, createdAtOffsetS: -900 });
    await insertJob(db.current.pool, { jobType: 'C', runAtOffsetS: -30 });
    const found = await t.queue.oldestPendingJob();
    expect(found).toMatchObject({ id: oldest, ageMinutes: 10 });
    expect(Date.now() - found!.createdAt.getTime()).toBeGreaterThan(890_000);
    expect(Date.now() - found!.waitingSince.getTime()).toBeLessThan(610_000);
  });

  it('oldestPendingJob ignores a job enqueued with a long delay (a delayed job is not a stuck one)', async () => {
    await insertJob(db.current.pool, { jobType: 'LATER', createdAtOffsetS: -1_200, runAtOffsetS: 3_000 });
    expect(await t.queue.oldestPendingJob()).toBeNull();
  });
});

describe('stats at scale', () => {
  it('past the exact limit: active counts stay exact, finished counts are estimated from statistics', async () => {
    await db.current.pool.query(
      `INSERT INTO job_queue (job_type, status, attempts, completed_at)
       SELECT 'BULK', (CASE WHEN g % 10 = 0 THEN 'FAILED' ELSE 'COMPLETED' END)::"JobStatus", 1, now()
         FROM generate_series(1, 120000) g`,
    );
    for (let i = 0; i < 7; i++) await insertJob(db.current.pool, { status: 'PENDING' });
    await insertJob(db.current.pool, { status: 'PROCESSING' });
    await db.current.pool.query('ANALYZE job_queue');
    const stats = await t.queue.getQueueStats();
    expect(stats).toMatchObject({ pending: 7, processing: 1, estimated: true });
    expect(stats.completed).toBeGreaterThan(100_000 * 0.9);
    expect(stats.completed).toBeLessThan(110_000);
    expect(stats.failed).toBeGreaterThan(12_000 * 0.7);
    expect(stats.failed).toBeLessThan(12_000 * 1.3);
    expect(await t.queue.getQueueStats({ exact: true })).toMatchObject({ completed: 108_000, failed: 12_000, estimated: false });
  });

  it('throughput per minute and the failed list with keyset pages', async () => {
    for (let i = 0; i < 5; i++) await insertJob(db.current.pool, { status: 'COMPLETED', completedAtOffsetS: -120 });
    const failed = [];
    for (let i = 0; i < 5; i++) failed.push(await insertJob(db.current.pool, { status: 'FAILED', jobType: i % 2 ? 'A' : 'B', completedAtOffsetS: -i }));
    const points = await t.queue.console.getThroughput(60);
    expect(points.reduce((s, p) => s + p.completed, 0)).toBe(5);
    expect(points.reduce((s, p) => s + p.failed, 0)).toBe(5);
    const page1 = await t.queue.console.listFailedJobs({ limit: 3 });
    expect(page1.jobs.map((j) => j.id)).toEqual(failed.slice(0, 3));
    const page2 = await t.queue.console.listFailedJobs({ limit: 3, cursor: page1.nextCursor! });
    expect(page2.jobs.map((j) => j.id)).toEqual(failed.slice(3));
    expect(page2.nextCursor).toBeNull();
    expect((await t.queue.console.listFailedJobs({ jobType: 'A' })).jobs).toHaveLength(2);
    await expect(t.queue.console.listFailedJobs({ cursor: 'garbage' })).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('runJobsNow', () => {
  it('makes delayed PENDING jobs due now and leaves due, running and finished ones alone', async () => {
    const delayed = await t.queue.enqueue({ jobType: 'LATER', delayMs: 3_600_000 });
    const due = await t.queue.enqueue({ jobType: 'NOW' });
    const done = await insertJob(db.current.pool, { status: 'COMPLETED', runAtOffsetS: 3_600 });
    expect((await t.queue.runJobsNow([delayed.id, due.id, done])).sort()).toEqual([delayed.id]);
    expect((await t.queue.getJob(delayed.id))!.runAt.getTime()).toBeLessThanOrEqual(Date.now() + 1_000);
    expect((await t.queue.claimJob(['LATER']))?.id).toBe(delayed.id);
    expect((await t.queue.getJob(done))!.status).toBe('COMPLETED');
    await expect(t.queue.runJobsNow(['not-an-id'])).rejects.toThrow(/job id/);
  });
});
