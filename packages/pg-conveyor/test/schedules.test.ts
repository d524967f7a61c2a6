import { once } from 'node:events';
import pg from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { DatabaseQueue, ManualClock, ValidationError } from 'pg-conveyor';
import { Worker } from 'pg-conveyor/worker';
import { useQueue } from './helpers/queue';
import { countJobs } from './helpers/jobs';

const t = useQueue();
const db = t.db;

beforeEach(async () => {
  await db.current.pool.query('TRUNCATE job_queue, job_schedules');
});

async function dbNow(): Promise<Date> {
  return (await db.current.pool.query<{ now: Date }>('SELECT now()')).rows[0]!.now;
}

describe('recurring jobs', () => {
  it('registered idempotently; invalid expressions, zones and names are refused', async () => {
    await t.queue.schedules.register('every-minute', { cron: '* * * * *', jobType: 'TICK', payload: { a: 1 } });
    const before = (await db.current.pool.query('SELECT updated_at FROM job_schedules')).rows[0].updated_at;
    await t.queue.schedules.register('every-minute', { cron: '* * * * *', jobType: 'TICK', payload: { a: 1 } });
    expect((await db.current.pool.query('SELECT updated_at FROM job_schedules')).rows[0].updated_at).toEqual(before);
    await expect(t.queue.schedules.register('bad', { cron: 'every day', jobType: 'TICK' })).rejects.toBeInstanceOf(ValidationError);
    await expect(t.queue.schedules.register('bad', { cron: '* * * * *', timezone: 'Mars/Olympus', jobType: 'TICK' })).rejects.toBeInstanceOf(ValidationError);
    await expect(t.queue.schedules.register('bad name!', { cron: '* * * * *', jobType: 'TICK' })).rejects.toBeInstanceOf(ValidationError);
  });

  it('fires exactly once per slot with 3 workers and 20 concurrent firers racing', async () => {
    await t.queue.schedules.register('every-minute', { cron: '* * * * *', jobType: 'TICK', payload: { report: true } });
    const clock = new ManualClock(new Date((await dbNow()).getTime() + 61_000)); // at least one slot is due
    const firers = Array.from({ length: 4 }, () => {
      const pool = new pg.Pool({ connectionString: db.current.url, max: 5 });
      pool.on('error', () => {});
      return new DatabaseQueue({ pool, clock });
    });
    const workers = firers
      .slice(0, 3)
      .map((q) => new Worker({ queue: q, connectionString: db.current.url, pollIntervalMs: 20, handlers: { OTHER: async () => {} } }));
    // Each worker looks for due schedules when it starts and on its polls (once a second at most).
    const workersFired = () => Promise.all(firers.slice(0, 3).map((q) => once(q.events, 'schedules:fired')));
    try {
      const started = workersFired();
      await Promise.all(workers.map((w) => w.start()));
      await Promise.all(Array.from({ length: 20 }, () => firers[3]!.schedules.fireDue()));
      await started; // the workers' own looks raced the 20
      expect(await countJobs(db.current.pool, "job_type = 'TICK'")).toBe(1);
      const { rows } = await db.current.pool.query(`SELECT unique_key, payload FROM job_queue WHERE job_type = 'TICK'`);
      expect(rows[0].unique_key).toMatch(/^schedule:every-minute@\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z$/);
      expect(rows[0].payload).toEqual({ report: true });

      clock.advance(60_000); // the next slot
      const polled = workersFired();
      await Promise.all(Array.from({ length: 10 }, () => firers[3]!.schedules.fireDue()));
      await polled;
      expect(await countJobs(db.current.pool, "job_type = 'TICK'")).toBe(2);
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      await Promise.all(firers.map((q) => q.pool.end()));
    }
  });

  it('a schedule registered now has nothing due until its next slot; removed, it stops', async () => {
    await t.queue.schedules.register('hourly', { cron: '0 * * * *', jobType: 'HOURLY' });
    expect(await t.queue.schedules.fireDue()).toEqual([]);
    expect(await t.queue.schedules.remove('hourly')).toBe(true);
    expect(await t.queue.schedules.remove('hourly')).toBe(false);
  });
});

describe('operating schedules', () => {
  it('syncSchedules keeps exactly the declared ones: one removed from the code stops firing', async () => {
    const clock = new ManualClock(await dbNow());
    const clocked = new DatabaseQueue({ pool: db.current.pool, clock, logger: false });
    // Yesterday's deploy declared two; the script that made 'one-off' is long gone.
    await clocked.schedules.sync({ minutely: { cron: '* * * * *', jobType: 'TICK' }, 'one-off': { cron: '* * * * *', jobType: 'STALE' } });
    expect(await clocked.schedules.sync({ minutely: { cron: '* * * * *', jobType: 'TICK' } })).toEqual({ removed: ['one-off'] });
    clock.advance(61_000);
    const fired = await clocked.schedules.fireDue();
    expect(fired.map((job) => job.jobType)).toEqual(['TICK']);
    expect((await clocked.schedules.list()).map((s) => s.name)).toEqual(['minutely']);
    // Bad definitions refuse the whole sync and change nothing.
    await expect(clocked.schedules.sync({ minutely: { cron: 'every minute', jobType: 'TICK' } })).rejects.toBeInstanceOf(ValidationError);
    expect((await clocked.schedules.list()).map((s) => s.name)).toEqual(['minutely']);
  });

  it('lists each schedule with its last run, that job’s status and the next run; a paused one fires nothing and stays paused when registered again; run now', async () => {
    const clock = new ManualClock(await dbNow());
    const clocked = new DatabaseQueue({ pool: db.current.pool, clock, logger: false });
    await clocked.schedules.register('minutely', { cron: '* * * * *', jobType: 'TICK', payload: { report: 'kpi' } });
    clock.advance(61_000);
    const [job] = await clocked.schedules.fireDue();
    const [listed] = await clocked.schedules.list();
    expect(listed).toMatchObject({
      name: 'minutely',
      cron: '* * * * *',
      timezone: 'UTC',
      jobType: 'TICK',
      paused: false,
      lastJob: { id: job!.id, status: 'PENDING' },
    });
    expect(listed!.lastRunAt!.getTime()).toBeLessThanOrEqual(clock.now().getTime());
    expect(listed!.nextRunAt!.getTime()).toBeGreaterThan(clock.now().getTime());
    expect(listed!.nextRunAt!.getTime() - listed!.lastRunAt!.getTime()).toBe(60_000);

    expect(await clocked.schedules.pause('minutely')).toBe(true);
    await clocked.schedules.register('minutely', { cron: '* * * * *', jobType: 'TICK', payload: { report: 'kpi' } }); // the app starts again
    clock.advance(120_000);
    expect(await clocked.schedules.fireDue()).toEqual([]);
    expect((await clocked.schedules.list())[0]).toMatchObject({ paused: true, nextRunAt: null });

    const now = await clocked.schedules.runNow('minutely');
    expect(now).toMatchObject({ jobType: 'TICK', payload: { report: 'kpi' }, status: 'PENDING' });
    expect(await clocked.schedules.runNow('nope')).toBeNull();
    await expect(clocked.schedules.pause('bad name!')).rejects.toBeInstanceOf(ValidationError);
    expect(await clocked.schedules.resume('minutely')).toBe(true);
    expect((await clocked.schedules.fireDue()).map((j) => j.jobType)).toEqual(['TICK']);
  });
});
