import { describe, expect, it } from 'vitest';
import { DatabaseQueue, ValidationError } from 'pg-conveyor';
import { useQueue } from './helpers/queue';
import { countJobs, expectJobCount, jobRow } from './helpers/jobs';

const t = useQueue();
const db = t.db;

describe('enqueue', () => {
  it('creates a PENDING job with the documented defaults', async () => {
    const job = await t.queue.enqueue({ jobType: 'INGEST_DATA', payload: { ingestJobId: 'ingest-123', records: [1, 2] } });
    expect(job).toMatchObject({
      jobType: 'INGEST_DATA',
      status: 'PENDING',
      priority: 0,
      attempts: 0,
      maxAttempts: 3,
      payload: { ingestJobId: 'ingest-123', records: [1, 2] },
      progress: null,
      errors: [],
      startedAt: null,
      completedAt: null,
    });
    expect(job.job_id).toBe(job.id);
    const row = await jobRow(db.current.pool, job.id);
    expect(row.payload).toEqual({ ingestJobId: 'ingest-123', records: [1, 2] });
    expect(row.run_at.getTime()).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it('stores priority, maxAttempts and scheduledFor', async () => {
    const at = new Date(Date.now() + 3_600_000);
    const job = await t.queue.enqueue({ jobType: 'VECTORIZE', priority: 5, maxAttempts: 7, scheduledFor: at });
    expect(job).toMatchObject({ priority: 5, maxAttempts: 7 });
    expect(job.runAt.toISOString()).toBe(at.toISOString());
  });

  it('delays by delayMs on the database clock', async () => {
    const { rows } = await db.current.pool.query<{ now: Date }>('SELECT now()');
    const job = await t.queue.enqueue({ jobType: 'T', delayMs: 60_000 });
    const delta = job.runAt.getTime() - rows[0]!.now.getTime();
    expect(delta).toBeGreaterThanOrEqual(59_000);
    expect(delta).toBeLessThan(65_000);
  });

  it('enqueueMany inserts all jobs in one statement and returns them in input order', async () => {
    const before = await countJobs(db.current.pool, "job_type = 'BULK'");
    const jobs = await t.queue.enqueueMany(Array.from({ length: 500 }, (_, i) => ({ jobType: 'BULK', payload: { i }, priority: i % 3 })));
    expect(jobs).toHaveLength(500);
    expect(jobs.map((j) => (j.payload as { i: number }).i)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    await expectJobCount(db.current.pool, before + 500, "job_type = 'BULK'");
  });

  it('enqueueMany stores each job its own type, priority and attempts, whether its batch shares them or not', async () => {
    const mixed = await t.queue.enqueueMany([
      { jobType: 'MIX_A', priority: 2, maxAttempts: 5 },
      { jobType: 'MIX_B', priority: 0, maxAttempts: 1 },
      { jobType: 'MIX_A' },
    ]);
    const shared = await t.queue.enqueueMany([
      { jobType: 'MIX_C', priority: 7, maxAttempts: 9 },
      { jobType: 'MIX_C', priority: 7, maxAttempts: 9 },
    ]);
    const stored = async (id: string) => {
      const row = await jobRow(db.current.pool, id);
      return [row.job_type, row.priority, row.max_attempts];
    };
    expect(await Promise.all(mixed.map((j) => stored(j.id)))).toEqual([
      ['MIX_A', 2, 5],
      ['MIX_B', 0, 1],
      ['MIX_A', 0, 3],
    ]);
    expect(await Promise.all(shared.map((j) => stored(j.id)))).toEqual([
      ['MIX_C', 7, 9],
      ['MIX_C', 7, 9],
    ]);
  });

  it('enqueueMany of an empty list does nothing', async () => {
    expect(await t.queue.enqueueMany([])).toEqual([]);
  });

  it('refuses a whole batch when one job is invalid, writing nothing', async () => {
    const before = await countJobs(db.current.pool);
    await expect(t.queue.enqueueMany([{ jobType: 'OK' }, { jobType: 'bad type!' }])).rejects.toThrow(/job #1.*jobType/);
    await expectJobCount(db.current.pool, before);
  });

  it.each([
    ['an empty job type', { jobType: '' }, /jobType/],
    ['a job type with SQL in it', { jobType: "X'; DROP TABLE job_queue;--" }, /jobType/],
    ['a fractional priority', { jobType: 'T', priority: 1.5 }, /priority/],
    ['maxAttempts 0', { jobType: 'T', maxAttempts: 0 }, /maxAttempts/],
    ['an unknown field', { jobType: 'T', colour: 'red' }, /colour|Unrecognized/i],
    ['an invalid date', { jobType: 'T', scheduledFor: new Date('nope') }, /scheduledFor/],
    ['both scheduledFor and delayMs', { jobType: 'T', scheduledFor: new Date(), delayMs: 5 }, /not both/],
    ['a NUL byte in the payload', { jobType: 'T', payload: { name: 'a\u0000b' } }, /NUL/],
    ['a lone surrogate in the payload', { jobType: 'T', payload: ['\ud800'] }, /surrogate/],
    ['a payload that is not JSON', { jobType: 'T', payload: { n: 10n } }, /JSON/],
  ])('refuses %s with a ValidationError and writes nothing', async (_name, input, pattern) => {
    const before = await countJobs(db.current.pool);
    const error = await t.queue.enqueue(input as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(pattern);
    await expectJobCount(db.current.pool, before);
  });

  it('refuses a payload over the size cap', async () => {
    const small = new DatabaseQueue({ pool: db.current.pool, maxPayloadBytes: 1_000 });
    await expect(small.enqueue({ jobType: 'T', payload: { blob: 'x'.repeat(2_000) } })).rejects.toThrow(/exceeds the limit of 1000/);
    const big = await t.queue.enqueue({ jobType: 'T', payload: { blob: 'x'.repeat(2 * 1024 * 1024) } }).catch((e) => e);
    expect(big).toBeInstanceOf(ValidationError);
  });

  it('keeps unicode payloads intact', async () => {
    const payload = { text: 'naïve — 日本語 🚀', nested: [{ ключ: 'значение' }] };
    const job = await t.queue.enqueue({ jobType: 'T', payload });
    expect((await t.queue.getJob(job.id))!.payload).toEqual(payload);
  });

  it('enqueueMany stores every payload as given, whatever characters an array literal would escape', async () => {
    // The batch travels as array literals and one JSON array written by the queue (jobs-insert.ts).
    const payloads = [
      { quote: 'say "hi"', backslash: 'C:\\dir\\', braces: '{a,b}', comma: 'x, y', word: 'NULL', space: ' ' },
      'a string payload with "quotes" and \\',
      [1, 'two', { three: [null, true] }],
      42,
      null,
      undefined,
      { text: 'naïve 🚀', empty: '' },
    ];
    const jobs = await t.queue.enqueueMany(payloads.map((payload, i) => ({ jobType: i === 0 ? 'NULL' : 'ESC', payload, priority: i })));
    const { rows } = await db.current.pool.query<{ id: string; job_type: string; payload: unknown; priority: number }>(
      'SELECT id, job_type, payload, priority FROM job_queue WHERE id = ANY($1::uuid[])',
      [jobs.map((j) => j.id)],
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    jobs.forEach((job, i) => {
      const row = byId.get(job.id)!;
      expect([row.job_type, row.priority]).toEqual([i === 0 ? 'NULL' : 'ESC', i]);
      // JSON null and no payload are both stored as none, and read as null.
      expect(row.payload).toEqual(payloads[i] ?? null);
      expect(job.payload).toEqual(payloads[i] ?? null);
    });
  });
});

describe('enqueue inside the caller’s transaction', () => {
  it('with a pg client: rolled back, the job never existed; committed, it exists', async () => {
    const client = await db.current.pool.connect();
    try {
      await client.query('BEGIN');
      const rolledBack = await t.queue.enqueue({ jobType: 'TX' }, { tx: client });
      await client.query('ROLLBACK');
      expect(await t.queue.getJob(rolledBack.id)).toBeNull();

      await client.query('BEGIN');
      const committed = await t.queue.enqueue({ jobType: 'TX' }, { tx: client });
      // Not visible to other connections until the caller commits.
      expect(await t.queue.getJob(committed.id)).toBeNull();
      await client.query('COMMIT');
      expect((await t.queue.getJob(committed.id))!.status).toBe('PENDING');
    } finally {
      client.release();
    }
  });
});

describe('static seed API', () => {
  it('works as documented once configured (or from DATABASE_URL)', async () => {
    const previous = process.env.DATABASE_URL;
    process.env.DATABASE_URL = db.current.url;
    try {
      await DatabaseQueue.closeDefault();
      const created = await DatabaseQueue.enqueue({ jobType: 'SEED', payload: { x: 1 }, priority: 1, maxAttempts: 3, scheduledFor: new Date() });
      const job = await DatabaseQueue.claimJob(['SEED']);
      expect(job!.job_id).toBe(created.id);
      await DatabaseQueue.updateProgress(job!.job_id, 1, 2, 'half');
      await DatabaseQueue.completeJob(job!.job_id, { savedCount: 1000, skippedCount: 5 });
      const done = await DatabaseQueue.getJob(created.id);
      expect(done).toMatchObject({ status: 'COMPLETED', payload: null, result: { savedCount: 1000, skippedCount: 5 } });
      expect((await DatabaseQueue.getQueueStats()).completed).toBeGreaterThanOrEqual(1);
    } finally {
      await DatabaseQueue.closeDefault();
      process.env.DATABASE_URL = previous;
    }
  });

  it('names the missing setting when there is no database URL', async () => {
    const previous = process.env.DATABASE_URL;
    delete process.env.DATABASE_URL;
    try {
      await DatabaseQueue.closeDefault();
      expect(() => DatabaseQueue.default).toThrow(/DATABASE_URL is not set/);
    } finally {
      process.env.DATABASE_URL = previous;
    }
  });
});
