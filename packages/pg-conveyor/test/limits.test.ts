import pg from 'pg';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DatabaseQueue, ManualClock, ValidationError } from 'pg-conveyor';
import { drainQueue } from 'pg-conveyor';
import { useQueue } from './helpers/queue';
import { countJobs } from './helpers/jobs';

const t = useQueue();
const db = t.db;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  await db.current.pool.query('CREATE TABLE runs (job_id uuid, started timestamptz, finished timestamptz)');
});
beforeEach(async () => {
  await db.current.pool.query('TRUNCATE job_queue, job_type_limits, runs');
});

/** A fresh queue on its own connections: another process, as far as Postgres can tell. */
function separateQueue() {
  const pool = new pg.Pool({ connectionString: db.current.url, max: 6 });
  pool.on('error', () => {});
  return new DatabaseQueue({ pool });
}

async function recordRun(pool: pg.Pool, jobId: string, ms: number) {
  await pool.query('INSERT INTO runs (job_id, started) VALUES ($1, clock_timestamp())', [jobId]);
  await sleep(ms);
  await pool.query('UPDATE runs SET finished = clock_timestamp() WHERE job_id = $1', [jobId]);
}

/** Most runs overlapping at any instant, from the recorded intervals. */
async function peakOverlap(): Promise<number> {
  const { rows } = await db.current.pool.query(
    `SELECT coalesce(max(n), 0)::int AS peak FROM (
       SELECT (SELECT count(*) FROM runs b WHERE b.started <= a.started AND b.finished > a.started) AS n FROM runs a) x`,
  );
  return rows[0].peak;
}

describe('global concurrency per type', () => {
  it('two worker processes plus a serverless drain never run more than 2 at once', async () => {
    const { spawn } = await import('node:child_process');
    await t.queue.setTypeLimits('LIMITED', { concurrency: 2 });
    await t.queue.enqueueMany(Array.from({ length: 24 }, () => ({ jobType: 'LIMITED' })));
    const processes = [0, 1].map(() =>
      spawn(process.execPath, ['--import', 'tsx', 'packages/pg-conveyor/test/fixtures/limited-worker-process.ts'], {
        env: { ...process.env, DATABASE_URL: db.current.url },
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    await Promise.all(
      processes.map((child) => new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()))),
    );
    const drainer = separateQueue();
    try {
      for (let i = 0; i < 400 && (await countJobs(db.current.pool, "status = 'COMPLETED'")) < 24; i++) {
        await drainQueue(drainer, { types: ['LIMITED'], maxJobs: 3, handler: async (job) => recordRun(db.current.pool, job.id, 40) });
        await sleep(15);
      }
    } finally {
      processes.forEach((child) => child.kill('SIGTERM'));
      await Promise.all(processes.map((child) => new Promise((resolve) => child.on('exit', resolve))));
      await drainer.pool.end();
    }
    expect(await countJobs(db.current.pool, "status = 'COMPLETED'")).toBe(24);
    expect(await peakOverlap()).toBe(2);
    // Every job ran exactly once.
    const { rows } = await db.current.pool.query('SELECT count(*)::int AS n FROM runs');
    expect(rows[0].n).toBe(24);
  });
});

describe('rate limits per type', () => {
  it('5 per second, on a test clock: never more than 5 starts in any 1 s window, shared by two queues', async () => {
    const clock = new ManualClock(new Date());
    const clocked = () => new DatabaseQueue({ connectionString: db.current.url, poolMax: 2, clock, logger: false });
    const [a, b] = [clocked(), clocked()]; // two processes, as far as Postgres can tell
    try {
      await a.setTypeLimits('RATED', { rate: { limit: 5, periodMs: 1_000 } });
      await a.enqueueMany(Array.from({ length: 40 }, () => ({ jobType: 'RATED' })));
      const take = async (q: DatabaseQueue) => {
        const jobs = await q.claimJobs(['RATED'], 10);
        for (const job of jobs) await q.completeJob(job);
        return jobs.length;
      };
      const taken: number[] = [];
      taken.push(await take(a)); // 5 at once
      taken.push(await take(b)); // the other queue counts the same starts: none
      clock.advance(400);
      taken.push(await take(b)); // a token bucket would have refilled 2 here: a window still holds 5
      await b.setTypeLimits('RATED', { rate: { limit: 5, periodMs: 1_000 } }); // set again at a cold start
      taken.push(await take(a)); // changes nothing
      clock.advance(620); // a period (and a slot) after the first 5
      taken.push(await take(b));
      for (let i = 0; i < 20; i++) {
        clock.advance(130);
        taken.push(await take(i % 2 ? a : b));
      }
      expect(taken.slice(0, 5)).toEqual([5, 0, 0, 0, 5]);
      // Every window of 1 s, wherever it starts, holds at most 5 starts.
      const { rows } = await db.current.pool.query<{ n: number }>(
        `SELECT max((SELECT count(*) FROM job_queue j2 WHERE j2.job_type = 'RATED'
                       AND j2.started_at >= j1.started_at AND j2.started_at < j1.started_at + interval '1 second'))::int AS n
           FROM job_queue j1 WHERE j1.job_type = 'RATED' AND j1.started_at IS NOT NULL`,
      );
      expect(rows[0]!.n).toBe(5);
      // And the limit is reached, not starved: 3.6 s of clock held 4 windows' worth.
      expect(await countJobs(db.current.pool, "status = 'COMPLETED'")).toBeGreaterThanOrEqual(20);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('unlimited types are not held back, and limits can be removed; bad limits are refused', async () => {
    await t.queue.setTypeLimits('ONE', { concurrency: 1 });
    await t.queue.enqueueMany([{ jobType: 'ONE' }, { jobType: 'ONE' }, { jobType: 'FREE' }, { jobType: 'FREE' }]);
    expect(await t.queue.claimJobs(['ONE'], 5)).toHaveLength(1);
    expect(await t.queue.claimJobs(['FREE'], 5)).toHaveLength(2);
    await t.queue.setTypeLimits('ONE', { concurrency: null });
    expect(await t.queue.claimJobs(['ONE'], 5)).toHaveLength(1);
    await expect(t.queue.setTypeLimits('ONE', { concurrency: 0 })).rejects.toBeInstanceOf(ValidationError);
    await expect(t.queue.setTypeLimits('ONE', { rate: { limit: 5, periodMs: -1 } })).rejects.toBeInstanceOf(ValidationError);
  });
});
