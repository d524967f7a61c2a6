import { beforeEach, describe, expect, it } from 'vitest';
import {
  DatabaseQueue,
  InvalidJobStateError,
  JobNotFoundError,
  LeaseLostError,
  ManualClock,
  NonRetryableError,
  ValidationError,
  type JobStatus,
} from 'pg-conveyor';
import { useQueue } from './helpers/queue';
import { insertJob, jobRow } from './helpers/jobs';

const t = useQueue();
const db = t.db;
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

beforeEach(() => t.reset());

async function claimOne(q: DatabaseQueue = t.queue, type = 'T') {
  const job = await q.claimJob([type]);
  if (!job) throw new Error('expected a job to claim');
  return job;
}

describe('completeJob', () => {
  it('stores the result, clears the payload and the lease', async () => {
    await t.queue.enqueue({ jobType: 'T', payload: { secret: 'pii' } });
    const job = await claimOne();
    const done = await t.queue.completeJob(job.id, { savedCount: 1000, skippedCount: 5 });
    expect(done).toMatchObject({ status: 'COMPLETED', result: { savedCount: 1000, skippedCount: 5 }, payload: null, lockedUntil: null });
    const row = await jobRow(db.current.pool, job.id);
    expect(row.payload).toBeNull(); // SQL NULL, not JSON null
    const { rows } = await db.current.pool.query('SELECT payload IS NULL AS sql_null FROM job_queue WHERE id = $1', [job.id]);
    expect(rows[0].sql_null).toBe(true);
    expect(row.completed_at).not.toBeNull();
  });

  it('accepts no result', async () => {
    await t.queue.enqueue({ jobType: 'T' });
    const done = await t.queue.completeJob((await claimOne()).id);
    expect(done.result).toBeNull();
  });
});

describe('completions made at the same time', () => {
  it('share one statement, each fenced by its own attempt: a cancelled one gets LeaseLostError, the rest complete', async () => {
    const pool = new (await import('pg')).default.Pool({ connectionString: db.current.url, max: 4 });
    const statements: string[] = [];
    const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
    (pool as unknown as { query: typeof query }).query = (...args: unknown[]) => {
      const config = args[0] as { name?: string };
      if (config?.name?.startsWith('conveyor.jobComplete')) statements.push(config.name);
      return query(...args);
    };
    const batching = new DatabaseQueue({ pool });
    try {
      await batching.enqueueMany(Array.from({ length: 6 }, (_, n) => ({ jobType: 'T', payload: { n } })));
      const jobs = await batching.claimJobs(['T'], 6);
      await t.queue.cancelJob(jobs[2]!.id);
      const outcomes = await Promise.allSettled(jobs.map((job, n) => batching.completeJob(job, { n })));
      expect(statements).toHaveLength(1);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
      expect((outcomes[2] as PromiseRejectedResult).reason).toBeInstanceOf(LeaseLostError);
      for (const [n, job] of jobs.entries()) {
        const row = await jobRow(db.current.pool, job.id);
        expect(row.status).toBe(n === 2 ? 'CANCELLED' : 'COMPLETED');
        if (n !== 2) expect(row.result).toEqual({ n });
      }
    } finally {
      await batching.close();
      await pool.end();
    }
  });

  it('the same job completed twice at once: the first wins, the second is refused', async () => {
    await t.queue.enqueue({ jobType: 'T' });
    const job = await claimOne();
    const [first, second] = await Promise.allSettled([t.queue.completeJob(job, 'first'), t.queue.completeJob(job, 'second')]);
    expect(first.status).toBe('fulfilled');
    expect((second as PromiseRejectedResult).reason).toBeInstanceOf(InvalidJobStateError);
    expect((await jobRow(db.current.pool, job.id)).result).toBe('first');
  });
});

describe('completeJobs', () => {
  it('stores each result as given in one statement, whatever characters an array literal would escape', async () => {
    const results = [{ quote: 'say "hi"', backslash: 'C:\\dir\\', braces: '{a,b}', word: 'NULL' }, 'text, "quoted"', [1, null], null, undefined];
    await t.queue.enqueueMany(results.map(() => ({ jobType: 'T' })));
    const jobs = await t.queue.claimJobs(['T'], results.length);
    const answers = await t.queue.completeJobs(jobs, results);
    for (const [i, job] of jobs.entries()) {
      // JSON null and no result are both stored as none, and read as null.
      expect((await jobRow(db.current.pool, job.id)).result).toEqual(results[i] ?? null);
      expect(answers[i]).toMatchObject({ id: job.id, status: 'COMPLETED', result: results[i] ?? null });
    }
  });
});

describe('a job object with a malformed attempt', () => {
  it('is refused with a ValidationError by every call that fences on it, and nothing changes', async () => {
    await t.queue.enqueue({ jobType: 'T' });
    const job = await claimOne();
    for (const attempts of ['1}', 1.5, -1, null, undefined, 10_000] as unknown[]) {
      const forged = { ...job, attempts } as typeof job;
      await expect(t.queue.completeJobs([forged], [{ ok: true }])).rejects.toBeInstanceOf(ValidationError);
      await expect(t.queue.completeJob(forged, { ok: true })).rejects.toBeInstanceOf(ValidationError);
      await expect(t.queue.failJob(forged, new Error('x'))).rejects.toBeInstanceOf(ValidationError);
      await expect(t.queue.extendLeases([forged])).rejects.toBeInstanceOf(ValidationError);
    }
    expect((await jobRow(db.current.pool, job.id)).status).toBe('PROCESSING');
  });
});

describe('failJob and backoff (injected clock)', () => {
  it('retries after 10 s, then 20 s, then FAILED at maxAttempts 3, keeping each error', async () => {
    const clock = new ManualClock(new Date('2026-01-01T00:00:00Z'));
    const q = new DatabaseQueue({ pool: db.current.pool, clock, random: () => 0.5 /* no jitter */ });
    const { id } = await q.enqueue({ jobType: 'T' });

    await q.failJob(await claimOne(q), new Error('first'));
    let row = await jobRow(db.current.pool, id);
    expect(row.status).toBe('PENDING');
    expect(row.run_at.toISOString()).toBe('2026-01-01T00:00:10.000Z');
    clock.advance(9_999);
    expect(await q.claimJob(['T'])).toBeNull();
    clock.advance(1);

    const second = await claimOne(q);
    expect(second.attempts).toBe(2);
    await q.failJob(second, new Error('second'));
    row = await jobRow(db.current.pool, id);
    expect(row.run_at.toISOString()).toBe('2026-01-01T00:00:30.000Z');
    clock.advance(19_999);
    expect(await q.claimJob(['T'])).toBeNull();
    clock.advance(1);

    const third = await claimOne(q);
    const failed = await q.failJob(third, new Error('third'));
    expect(failed).toMatchObject({ status: 'FAILED', attempts: 3, result: { error: 'third' } });
    expect(failed.completedAt!.toISOString()).toBe('2026-01-01T00:00:30.000Z');
    expect(failed.errors.map((e) => [e.attempt, e.message, e.kind])).toEqual([
      [1, 'first', 'error'],
      [2, 'second', 'error'],
      [3, 'third', 'error'],
    ]);
    clock.advance(3_600_000);
    expect(await q.claimJob(['T'])).toBeNull();
  });

  it('adds up to ±10 % jitter', async () => {
    const clock = new ManualClock(new Date('2026-01-01T00:00:00Z'));
    for (const [random, expected] of [
      [0, '2026-01-01T00:00:09.000Z'],
      [0.999999, '2026-01-01T00:00:11.000Z'],
    ] as const) {
      const q = new DatabaseQueue({ pool: db.current.pool, clock, random: () => random });
      const { id } = await q.enqueue({ jobType: 'J' });
      await q.failJob(await claimOne(q, 'J'), new Error('x'));
      expect((await jobRow(db.current.pool, id)).run_at.toISOString()).toBe(expected);
      await t.reset();
    }
  });

  it('fails at once on NonRetryableError', async () => {
    await t.queue.enqueue({ jobType: 'T', maxAttempts: 5 });
    const failed = await t.queue.failJob(await claimOne(), new NonRetryableError('bad input, retrying will not help'));
    expect(failed).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(failed.errors[0]).toMatchObject({ kind: 'non_retryable', message: 'NonRetryableError: bad input, retrying will not help' });
  });

  it('truncates error text to 1,000 characters and strips NUL bytes', async () => {
    await t.queue.enqueue({ jobType: 'T' });
    const failed = await t.queue.failJob(await claimOne(), new Error(`a\u0000${'x'.repeat(5_000)}`));
    expect(failed.errors[0]!.message).toHaveLength(1_000);
    expect(failed.errors[0]!.message).not.toContain('\u0000');
  });

  it('accepts non-Error values as errors', async () => {
    await t.queue.enqueue({ jobType: 'T' });
    const failed = await t.queue.failJob(await claimOne(), 'plain string');
    expect(failed.errors[0]!.message).toBe('plain string');
  });
});

describe('updateProgress', () => {
  it('stores current, total and message on a running job', async () => {
    await t.queue.enqueue({ jobType: 'T' });
    const job = await claimOne();
    await t.queue.updateProgress(job.id, 500, 1000, 'Processing records...');
    expect((await t.queue.getJob(job.id))!.progress).toEqual({ current: 500, total: 1000, message: 'Processing records...' });
  });

  it('refuses bad numbers and jobs that are not running', async () => {
    const pending = await t.queue.enqueue({ jobType: 'T' });
    await expect(t.queue.updateProgress(pending.id, 1, 2)).rejects.toBeInstanceOf(InvalidJobStateError);
    const job = await claimOne();
    await expect(t.queue.updateProgress(job.id, -1, 2)).rejects.toBeInstanceOf(ValidationError);
    await expect(t.queue.updateProgress(job.id, Number.NaN, 2)).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('retryJob and cancelJob', () => {
  it('retry: FAILED -> PENDING, runnable now, with one more attempt', async () => {
    const id = await insertJob(db.current.pool, { jobType: 'T', status: 'FAILED', attempts: 3, maxAttempts: 3 });
    const retried = await t.queue.retryJob(id);
    expect(retried).toMatchObject({ status: 'PENDING', maxAttempts: 4, completedAt: null, result: null });
    const job = await claimOne();
    expect(job).toMatchObject({ id, attempts: 4 });
  });

  it('cancel: PENDING and PROCESSING -> CANCELLED; a worker then finds its lease gone', async () => {
    const pendingId = await insertJob(db.current.pool, { status: 'PENDING', jobType: 'OTHER' });
    expect((await t.queue.cancelJob(pendingId)).status).toBe('CANCELLED');

    await t.queue.enqueue({ jobType: 'T' });
    const running = await claimOne();
    expect((await t.queue.cancelJob(running.id)).status).toBe('CANCELLED');
    await expect(t.queue.completeJob(running, { late: true })).rejects.toBeInstanceOf(LeaseLostError);
    expect((await t.queue.getJob(running.id))!.status).toBe('CANCELLED');
  });

  it('a cancelled job can be retried', async () => {
    const id = await insertJob(db.current.pool, { status: 'CANCELLED' });
    expect((await t.queue.retryJob(id)).status).toBe('PENDING');
  });
});

describe('illegal transitions are refused with the current state, and change nothing', () => {
  const cases: [string, JobStatus[], (id: string) => Promise<unknown>][] = [
    ['complete', ['PENDING', 'COMPLETED', 'FAILED', 'CANCELLED'], (id) => t.queue.completeJob(id, { x: 1 })],
    ['fail', ['PENDING', 'COMPLETED', 'FAILED', 'CANCELLED'], (id) => t.queue.failJob(id, new Error('x'))],
    ['retry', ['PENDING', 'PROCESSING', 'COMPLETED'], (id) => t.queue.retryJob(id)],
    ['cancel', ['COMPLETED', 'FAILED', 'CANCELLED'], (id) => t.queue.cancelJob(id)],
  ];
  for (const [action, statuses, act] of cases) {
    for (const status of statuses) {
      it(`${action} of a ${status} job`, async () => {
        const id = await insertJob(db.current.pool, { status });
        const before = await jobRow(db.current.pool, id);
        const error = await act(id).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InvalidJobStateError);
        expect((error as InvalidJobStateError).currentStatus).toBe(status);
        expect(await jobRow(db.current.pool, id)).toEqual(before);
      });
    }
  }

  it('unknown ids give JobNotFoundError; malformed ids a ValidationError', async () => {
    for (const act of [
      () => t.queue.completeJob(UNKNOWN_ID),
      () => t.queue.failJob(UNKNOWN_ID, 'x'),
      () => t.queue.retryJob(UNKNOWN_ID),
      () => t.queue.cancelJob(UNKNOWN_ID),
      () => t.queue.updateProgress(UNKNOWN_ID, 1, 1),
    ]) {
      await expect(act()).rejects.toBeInstanceOf(JobNotFoundError);
    }
    await expect(t.queue.retryJob('1;DROP TABLE job_queue;--')).rejects.toBeInstanceOf(ValidationError);
    expect(await t.queue.getJob(UNKNOWN_ID)).toBeNull();
  });

  it('the database itself refuses states that break the invariants', async () => {
    const id = await insertJob(db.current.pool, { status: 'PENDING' });
    await expect(db.current.pool.query("UPDATE job_queue SET status = 'COMPLETED' WHERE id = $1", [id])).rejects.toThrow(/job_queue_finished_check/);
    await expect(db.current.pool.query("UPDATE job_queue SET status = 'PROCESSING' WHERE id = $1", [id])).rejects.toThrow(/job_queue_lease_check/);
    await expect(db.current.pool.query('UPDATE job_queue SET attempts = 4 WHERE id = $1', [id])).rejects.toThrow(/job_queue_attempts_check/);
  });
});

describe('fencing: a worker whose claim was taken over changes nothing', () => {
  it('a zombie completing after its lease was rescued and re-claimed gets LeaseLostError', async () => {
    const zombie = new DatabaseQueue({ pool: db.current.pool, workerId: 'zombie', rescueIntervalMs: 0 });
    const healthy = new DatabaseQueue({ pool: db.current.pool, workerId: 'healthy', rescueIntervalMs: 0, backoff: { baseMs: 0 } });
    const { id } = await zombie.enqueue({ jobType: 'Z' });
    const first = await zombie.claimJob(['Z']);
    await db.current.pool.query("UPDATE job_queue SET locked_until = now() - interval '1 second' WHERE id = $1", [id]);
    const second = await healthy.claimJob(['Z']); // rescues, then claims attempt 2
    expect(second).toMatchObject({ id, attempts: 2, lockedBy: 'healthy' });

    // The zombie uses the bare id (seed API style): its own claim record still fences it.
    await expect(zombie.completeJob(first!.job_id, { stale: true })).rejects.toBeInstanceOf(LeaseLostError);
    await expect(zombie.failJob(first!.job_id, new Error('stale'))).rejects.toBeInstanceOf(LeaseLostError);
    await expect(zombie.updateProgress(first!, 1, 1)).rejects.toBeInstanceOf(LeaseLostError);
    expect(await t.queue.getJob(id)).toMatchObject({ status: 'PROCESSING', attempts: 2, lockedBy: 'healthy' });

    await healthy.completeJob(second!, { fresh: true });
    expect(await t.queue.getJob(id)).toMatchObject({ status: 'COMPLETED', result: { fresh: true } });
  });
});
