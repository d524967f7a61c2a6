import { describe, expect, it } from 'vitest';
import { ValidationError } from 'pg-conveyor';
import { useQueue } from './helpers/queue';
import { insertJob, jobRow } from './helpers/jobs';

const t = useQueue({ leaseMs: 60_000, reset: true });
const db = t.db;

describe('claimJob', () => {
  it('returns null when nothing is ready', async () => {
    expect(await t.queue.claimJob(['NOTHING'])).toBeNull();
  });

  it('claims atomically: PROCESSING, attempts + 1, a lease on the database clock, started_at', async () => {
    const created = await t.queue.enqueue({ jobType: 'A', payload: { k: 1 } });
    const job = await t.queue.claimJob(['A']);
    expect(job).toMatchObject({ id: created.id, status: 'PROCESSING', attempts: 1, payload: { k: 1 }, lockedBy: t.queue.workerId });
    const row = await jobRow(db.current.pool, created.id);
    const { rows } = await db.current.pool.query<{ now: Date }>('SELECT now()');
    const leaseLeft = row.locked_until.getTime() - rows[0]!.now.getTime();
    expect(leaseLeft).toBeGreaterThan(55_000);
    expect(leaseLeft).toBeLessThanOrEqual(60_000);
    expect(row.started_at).not.toBeNull();
    expect(await t.queue.claimJob(['A'])).toBeNull();
  });

  it('takes higher priority first, then the oldest run time', async () => {
    const low = await insertJob(db.current.pool, { jobType: 'P', priority: 0, runAtOffsetS: -100 });
    const highLater = await insertJob(db.current.pool, { jobType: 'P', priority: 5, runAtOffsetS: -10 });
    const highEarlier = await insertJob(db.current.pool, { jobType: 'P', priority: 5, runAtOffsetS: -20 });
    const order = [];
    for (let i = 0; i < 3; i++) order.push((await t.queue.claimJob(['P']))!.id);
    expect(order).toEqual([highEarlier, highLater, low]);
  });

  it('claims only the requested types', async () => {
    await insertJob(db.current.pool, { jobType: 'OTHER' });
    const mine = await insertJob(db.current.pool, { jobType: 'MINE' });
    expect((await t.queue.claimJob(['MINE', 'ALSO_MINE']))!.id).toBe(mine);
    expect(await t.queue.claimJob(['MINE'])).toBeNull();
  });

  it('does not claim a job scheduled for later, and does once its time has come', async () => {
    const later = await insertJob(db.current.pool, { jobType: 'S', runAtOffsetS: 3600 });
    expect(await t.queue.claimJob(['S'])).toBeNull();
    await db.current.pool.query("UPDATE job_queue SET run_at = now() - interval '1 second' WHERE id = $1", [later]);
    expect((await t.queue.claimJob(['S']))!.id).toBe(later);
  });

  it('never claims finished or processing jobs', async () => {
    for (const status of ['PROCESSING', 'COMPLETED', 'FAILED', 'CANCELLED'] as const) {
      await insertJob(db.current.pool, { jobType: 'F', status });
    }
    expect(await t.queue.claimJob(['F'])).toBeNull();
  });

  it('claimJobs takes a batch in priority order, no more than asked', async () => {
    await t.queue.enqueueMany(Array.from({ length: 10 }, (_, i) => ({ jobType: 'B', priority: i })));
    const batch = await t.queue.claimJobs(['B'], 4);
    expect(batch.map((j) => j.priority)).toEqual([9, 8, 7, 6]);
    const { rows } = await db.current.pool.query("SELECT count(*)::int AS n FROM job_queue WHERE status = 'PROCESSING'");
    expect(rows[0].n).toBe(4);
  });

  it("gives each job Dates of its own, equal to the rows' timestamps, though one statement repeats them", async () => {
    // The executor remembers the last timestamp text it parsed (executor.ts): a shared Date would
    // let one job's mutation show up in another.
    await t.queue.enqueueMany([{ jobType: 'D' }, { jobType: 'D' }, { jobType: 'D' }]);
    const jobs = await t.queue.claimJobs(['D'], 3);
    expect(jobs).toHaveLength(3);
    expect(new Set(jobs.map((j) => j.createdAt)).size).toBe(3);
    expect(new Set(jobs.map((j) => j.startedAt!.getTime())).size).toBe(1);
    const { rows } = await db.current.pool.query<{ id: string; created_at: Date; started_at: Date; locked_until: Date }>(
      `SELECT id, created_at, started_at, locked_until FROM job_queue WHERE job_type = 'D'`,
    );
    for (const job of jobs) {
      const row = rows.find((r) => r.id === job.id)!;
      expect([job.createdAt.getTime(), job.startedAt!.getTime(), job.lockedUntil!.getTime()]).toEqual([
        row.created_at.getTime(),
        row.started_at.getTime(),
        row.locked_until.getTime(),
      ]);
    }
    jobs[0]!.startedAt!.setTime(0);
    expect(jobs[1]!.startedAt!.getTime()).toBe(rows[0]!.started_at.getTime());
  });

  it('refuses bad arguments with a ValidationError', async () => {
    await expect(t.queue.claimJob([])).rejects.toBeInstanceOf(ValidationError);
    await expect(t.queue.claimJobs(['B'], 0)).rejects.toBeInstanceOf(ValidationError);
    await expect(t.queue.claimJobs(['B'], 1_000_000)).rejects.toBeInstanceOf(ValidationError);
    await expect(t.queue.claimJob(['1;DROP TABLE job_queue;--'])).rejects.toBeInstanceOf(ValidationError);
  });
});
