import { afterEach, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { DatabaseQueue, JobTakenAwayError, ManualClock } from 'pg-conveyor';
import { Worker } from 'pg-conveyor/worker';
import { useQueue } from './helpers/queue';
import { sleep, until } from './helpers/wait';
import { countJobs } from './helpers/jobs';

const t = useQueue({ poolMax: 6, reset: true });
const db = t.db;
const workers: Worker[] = [];

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
});

function worker(options: Partial<ConstructorParameters<typeof Worker>[0]>) {
  const w = new Worker({ queue: t.queue, connectionString: db.current.url, handlers: {}, ...options });
  workers.push(w);
  return w;
}

describe('Worker', () => {
  it('wakes on NOTIFY: an idle worker with a 60 s poll starts a new job within milliseconds', async () => {
    const started: number[] = [];
    const w = worker({ pollIntervalMs: 60_000, handlers: { FAST: async () => void started.push(Date.now()) } });
    const idle = once(w, 'idle'); // the start-up claim found nothing: the slot waits for a NOTIFY
    await w.start();
    expect(w.listening).toBe(true);
    await idle;
    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) {
      const before = Date.now();
      await t.queue.enqueue({ jobType: 'FAST' });
      await until(() => started.length === i + 1, 2_000);
      latencies.push(started[i]! - before);
    }
    latencies.sort((a, b) => a - b);
    expect(latencies[10]).toBeLessThan(50); // median, generous for a loaded 2-core machine
    await until(async () => (await countJobs(db.current.pool, "status = 'COMPLETED'")) === 20);
  });

  it('polls when LISTEN is off (PgBouncer mode)', async () => {
    let seen: unknown = null;
    const w = worker({
      listen: false,
      pollIntervalMs: 50,
      handlers: {
        POLLED: async (_job, { job, signal, updateProgress }) => {
          seen = { id: job.id, aborted: signal.aborted };
          await updateProgress(1, 1, 'done');
          return 'ok';
        },
      },
    });
    await w.start();
    expect(w.listening).toBe(false);
    const { id } = await t.queue.enqueue({ jobType: 'POLLED' });
    await until(async () => (await countJobs(db.current.pool, "status = 'COMPLETED'")) === 1);
    expect(seen).toEqual({ id, aborted: false });
    expect((await t.queue.getJob(id))!.progress).toEqual({ current: 1, total: 1, message: 'done' });
  });

  it('runs each type at its own concurrency', async () => {
    let running = 0;
    let peak = 0;
    const slow = async () => {
      peak = Math.max(peak, ++running);
      await sleep(60);
      running--;
    };
    const w = worker({ handlers: { CONC: { handler: slow, concurrency: 3 } } });
    await w.start();
    await t.queue.enqueueMany(Array.from({ length: 12 }, () => ({ jobType: 'CONC' })));
    await until(async () => (await countJobs(db.current.pool, "status = 'COMPLETED'")) === 12);
    expect(peak).toBe(3);
  });

  it('a per-type timeout aborts the handler and fails the attempt', async () => {
    let aborted = false;
    const w = worker({
      graceMs: 50,
      handlers: {
        HANG: {
          timeoutMs: 100,
          handler: (_job, ctx) =>
            new Promise((_, reject) =>
              ctx.signal.addEventListener('abort', () => {
                aborted = true;
                reject(ctx.signal.reason);
              }),
            ),
        },
      },
    });
    await w.start();
    const { id } = await t.queue.enqueue({ jobType: 'HANG' });
    await until(async () => (await t.queue.getJob(id))!.errors.length === 1);
    const job = await t.queue.getJob(id);
    expect(aborted).toBe(true);
    expect(job).toMatchObject({ status: 'PENDING', attempts: 1 });
    expect(job!.errors[0]!.message).toMatch(/did not finish within 100 ms/);
  });

  it('heartbeats keep a long job’s short lease alive: no other worker rescues it', async () => {
    // On a test clock: the job runs "1.5 s" past its 1 s lease without the test waiting for it.
    const clock = new ManualClock(new Date());
    const clocked = new DatabaseQueue({ connectionString: db.current.url, poolMax: 3, clock, logger: false });
    const rescuer = new DatabaseQueue({ connectionString: db.current.url, poolMax: 1, clock, logger: false });
    let finish: () => void = () => {};
    const running = new Promise<void>((resolve) => (finish = resolve));
    const w = new Worker({ queue: clocked, connectionString: db.current.url, leaseMs: 1_000, handlers: { LONG: async () => running } });
    workers.push(w);
    try {
      await w.start();
      const { id } = await clocked.enqueue({ jobType: 'LONG' });
      await until(async () => (await clocked.getJob(id))!.status === 'PROCESSING');
      clock.advance(1_500); // past the lease the claim took
      // Heartbeats (every leaseMs / 3) extend it from the clock's new now; without them it stays expired.
      await until(async () => !(await leaseExpired(id)), 3_000);
      expect(await rescuer.rescueExpired()).toBe(0);
      finish();
      await until(async () => (await clocked.getJob(id))!.status === 'COMPLETED', 5_000);
      expect((await clocked.getJob(id))!.attempts).toBe(1);
    } finally {
      finish();
      await w.stop();
      await Promise.all([clocked.close(), rescuer.close()]);
    }

    async function leaseExpired(id: string): Promise<boolean> {
      const { rows } = await db.current.pool.query('SELECT locked_until < $2 AS expired FROM job_queue WHERE id = $1', [id, clock.now()]);
      return rows[0].expired;
    }
  });

  it('a running job cancelled meanwhile has its handler aborted at the next heartbeat, with JobTakenAwayError', async () => {
    let reason: unknown = null;
    const w = worker({
      pollIntervalMs: 50,
      leaseMs: 1_500,
      handlers: {
        LONG: async (_job, { signal }) => {
          await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
          reason = signal.reason;
          return 'finished after its cancel';
        },
      },
    });
    const ended = once(w, 'job:end');
    await w.start();
    const { id } = await t.queue.enqueue({ jobType: 'LONG' });
    await until(async () => (await t.queue.getJob(id))!.status === 'PROCESSING');
    await t.queue.cancelJob(id);
    const [, outcome] = await ended;
    expect(outcome).toBe('lost');
    expect(reason).toBeInstanceOf(JobTakenAwayError);
    expect((await t.queue.getJob(id))!).toMatchObject({ status: 'CANCELLED', result: null }); // its late result is fenced out
  });

  it('stop(): waits for running jobs, releases those that outlive the shutdown timeout, claims nothing new', async () => {
    let finishQuick: () => void = () => {};
    const quick = new Promise<void>((resolve) => (finishQuick = resolve));
    const w = worker({
      shutdownTimeoutMs: 600,
      graceMs: 100,
      handlers: {
        QUICK: { handler: async () => quick, concurrency: 2 }, // running when stop() is called, done soon after
        STUCK: { handler: (_job, ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))) },
      },
    });
    await w.start();
    await t.queue.enqueueMany([{ jobType: 'QUICK' }, { jobType: 'QUICK' }, { jobType: 'STUCK' }]);
    await until(() => w.running.QUICK === 2 && w.running.STUCK === 1);
    const stopped = Date.now();
    const stopping = w.stop();
    finishQuick();
    await stopping;
    expect(Date.now() - stopped).toBeLessThan(1_500);
    await t.queue.enqueue({ jobType: 'QUICK' });
    await sleep(100); // a check that nothing happens: time for a stray slot, had one survived, to claim
    expect(await countJobs(db.current.pool, "status = 'PROCESSING'")).toBe(0);
    expect(await countJobs(db.current.pool, "job_type = 'QUICK' AND status = 'COMPLETED'")).toBe(2);
    // The stuck job is back to PENDING, runnable at once, its attempt not counted.
    expect(await countJobs(db.current.pool, "job_type = 'STUCK' AND status = 'PENDING' AND attempts = 0 AND run_at <= now()")).toBe(1);
    expect(await countJobs(db.current.pool, "job_type = 'QUICK' AND status = 'PENDING'")).toBe(1);
  });

  it('slots woken together share claims: one NOTIFY for 10 jobs wakes 10 idle slots, served by at most 2 statements', async () => {
    const counting = new DatabaseQueue({ connectionString: db.current.url, poolMax: 4 });
    const claims: number[] = [];
    const claimJobs = counting.claimJobs.bind(counting);
    counting.claimJobs = (types, limit, options) => {
      claims.push(limit);
      return claimJobs(types, limit, options);
    };
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let running = 0;
    const w = new Worker({
      queue: counting,
      connectionString: db.current.url,
      pollIntervalMs: 60_000,
      handlers: {
        SHARED: {
          concurrency: 10,
          handler: async () => {
            running++;
            await gate;
          },
        },
      },
    });
    let idle = 0;
    w.on('idle', () => idle++);
    try {
      await w.start();
      await until(() => idle === 10); // every slot idle: the start-up claims found nothing
      claims.length = 0;
      await t.queue.enqueueMany(Array.from({ length: 10 }, () => ({ jobType: 'SHARED' })));
      await until(() => running === 10);
      expect(claims.length).toBeLessThanOrEqual(2);
      expect(claims.reduce((a, b) => a + b, 0)).toBe(10); // each claim asked for the slots it served
      release();
      await until(async () => (await countJobs(db.current.pool, "status = 'COMPLETED'")) === 10);
    } finally {
      release();
      await w.stop();
      await counting.close();
    }
  });

  it('refuses bad options by name', () => {
    expect(() => new Worker({ queue: t.queue, handlers: { X: { handler: async () => {}, concurrency: 0 } } })).toThrow(/concurrency/);
    expect(() => new Worker({ queue: t.queue, handlers: {} })).toThrow(/at least one handler/);
  });
});

describe('worker process and SIGTERM', () => {
  it('SIGTERM mid-batch: exit 0, nothing lost, nothing left locked', async () => {
    const { spawn } = await import('node:child_process');
    await db.current.pool.query('CREATE TABLE IF NOT EXISTS run_ledger (job_id uuid, pid int)');
    await t.queue.enqueueMany(Array.from({ length: 40 }, () => ({ jobType: 'SLEEPY' })));
    const child = spawn(process.execPath, ['--import', 'tsx', 'packages/pg-conveyor/test/fixtures/sleepy-worker-process.ts'], {
      env: { ...process.env, DATABASE_URL: db.current.url },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));
    await until(async () => (await countJobs(db.current.pool, "status = 'COMPLETED'")) >= 8);
    await until(async () => (await countJobs(db.current.pool, "status = 'PROCESSING'")) > 0);
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    expect(await countJobs(db.current.pool, "status = 'PROCESSING'")).toBe(0);
    const completed = await countJobs(db.current.pool, "status = 'COMPLETED'");
    const pending = await countJobs(db.current.pool, "status = 'PENDING' AND run_at <= now()");
    expect(completed + pending).toBe(40);
    expect(pending).toBeGreaterThan(0);
    // Every completed job ran exactly once.
    const { rows } = await db.current.pool.query(
      `SELECT count(*)::int AS n FROM job_queue q WHERE q.status = 'COMPLETED' AND (SELECT count(*) FROM run_ledger l WHERE l.job_id = q.id) <> 1`,
    );
    expect(rows[0].n).toBe(0);
  });
});
