import { Writable } from 'node:stream';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, DatabaseQueue, NonRetryableError, type Logger } from 'pg-conveyor';
import { cronRoute } from 'pg-conveyor/next';
import { Worker } from 'pg-conveyor/worker';
import { useQueue } from './helpers/queue';
import { until } from './helpers/wait';

/** A pino logger (the library's own) writing JSON lines into memory, parsed as the test reads them. */
function memoryLogger(level: 'debug' | 'info' = 'info'): { logger: Logger; lines: () => Record<string, unknown>[]; raw: () => string } {
  let text = '';
  const destination = new Writable({
    write(chunk, _enc, done) {
      text += String(chunk);
      done();
    },
  });
  return {
    logger: createLogger({ level, destination }),
    raw: () => text,
    lines: () =>
      text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

const log = memoryLogger();
const t = useQueue({ logger: log.logger, backoff: { baseMs: 60_000 }, reset: true });
const db = t.db;
const workers: Worker[] = [];

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
});

describe('structured logs', () => {
  it('a failed attempt is one JSON line at warn with the job id, type, attempt and error; the last one at error', async () => {
    const before = log.lines().length;
    const job = await t.queue.enqueue({ jobType: 'LOG_FAIL', maxAttempts: 2 });
    const first = (await t.queue.claimJob(['LOG_FAIL']))!;
    await t.queue.failJob(first, new Error('smtp said no'));
    await db.current.pool.query(`UPDATE job_queue SET run_at = now() WHERE id = $1`, [job.id]);
    const second = (await t.queue.claimJob(['LOG_FAIL']))!;
    await t.queue.failJob(second, new NonRetryableError('bad address'));
    const lines = log.lines().slice(before);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      level: 'warn',
      name: 'pg-conveyor',
      msg: 'job attempt failed; will retry',
      jobId: job.id,
      jobType: 'LOG_FAIL',
      attempt: 1,
      maxAttempts: 2,
      error: 'smtp said no',
    });
    expect(typeof lines[0]!.retryAt).toBe('string');
    expect(typeof lines[0]!.time).toBe('string'); // ISO 8601
    expect(lines[1]).toMatchObject({ level: 'error', msg: 'job failed', jobId: job.id, attempt: 2, error: 'NonRetryableError: bad address' });
    expect(lines[1]).not.toHaveProperty('err'); // a job's failure is its message, not our stack
  });

  it('the worker logs each failure of a handler once, its start and stop, and nothing at info per completed job', async () => {
    const before = log.lines().length;
    const w = new Worker({
      queue: t.queue,
      connectionString: db.current.url,
      pollIntervalMs: 50,
      handlers: {
        LOG_OK: async () => 'fine',
        LOG_THROWS: async () => {
          throw new Error('handler broke');
        },
      },
    });
    workers.push(w);
    await w.start();
    await t.queue.enqueueMany([{ jobType: 'LOG_OK' }, { jobType: 'LOG_OK' }, { jobType: 'LOG_THROWS' }]);
    await until(() =>
      log
        .lines()
        .slice(before)
        .some((l) => l.jobType === 'LOG_THROWS'),
    );
    await until(async () => (await t.queue.getQueueStats()).completed === 2);
    await w.stop();
    const lines = log.lines().slice(before);
    expect(lines.map((l) => l.msg)).toEqual(['worker started', 'job attempt failed; will retry', 'worker stopped']);
    expect(lines[0]).toMatchObject({ level: 'info', concurrency: { LOG_OK: 1, LOG_THROWS: 1 }, listening: true });
    expect(lines[1]).toMatchObject({ jobType: 'LOG_THROWS', attempt: 1, error: 'handler broke' });
  });

  it('at debug, one line per job started, ended and completed, each naming the job', async () => {
    const debug = memoryLogger('debug');
    const w = new Worker({ queue: t.queue, connectionString: db.current.url, logger: debug.logger, handlers: { LOG_DEBUG: async () => 1 } });
    workers.push(w);
    await w.start();
    const job = await t.queue.enqueue({ jobType: 'LOG_DEBUG' });
    await until(() => debug.lines().some((l) => l.msg === 'job ended'));
    const forJob = debug.lines().filter((l) => l.jobId === job.id);
    expect(forJob.map((l) => [l.level, l.msg])).toEqual([
      ['debug', 'job started'],
      ['debug', 'job ended'],
    ]);
    expect(forJob[1]).toMatchObject({ outcome: 'completed', jobType: 'LOG_DEBUG', attempt: 1 });
  });

  it('a terminated connection is logged once, at warn, without a stack; an unexpected error at error with its stack', async () => {
    const own = memoryLogger();
    const w = new Worker({ queue: t.queue, connectionString: db.current.url, logger: own.logger, handlers: { LOG_IDLE: async () => 1 } });
    workers.push(w);
    await w.start();
    expect(w.listening).toBe(true);
    // The database ends the worker's LISTEN connection three times (as a restart or failover would).
    for (let i = 0; i < 3; i++) {
      await until(() => w.listening, 5_000);
      await db.current.pool.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN conveyor_jobs' AND datname = current_database()`,
      );
      await until(() => !w.listening, 5_000);
    }
    await until(() => w.listening, 5_000);
    const lost = own.lines().filter((l) => String(l.msg).startsWith('LISTEN connection lost'));
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatchObject({ level: 'warn', code: '57P01' });
    expect(lost[0]).not.toHaveProperty('err');
    expect(own.raw()).not.toContain('    at '); // no stack trace anywhere
    expect(own.lines().filter((l) => l.msg === 'LISTEN connection back').length).toBeGreaterThanOrEqual(1);

    w.emit('error', new TypeError('a bug of ours'));
    const bug = own.lines().find((l) => l.msg === 'worker: a bug of ours')!;
    expect(bug).toMatchObject({ level: 'error', err: { type: 'TypeError', message: 'a bug of ours' } });
    expect(String((bug.err as { stack: string }).stack)).toContain('logging.test.ts');
  });

  it('the cron route logs one line per drain; an unreachable database at warn, a bug with its stack', async () => {
    const own = memoryLogger();
    process.env.LOG_TEST_SECRET = 'x'.repeat(40);
    const get = (route: (r: Request) => Promise<Response>) =>
      route(new Request('http://localhost/api/workers/x', { headers: { authorization: `Bearer ${'x'.repeat(40)}` } }));
    await t.queue.enqueue({ jobType: 'LOG_CRON' });
    const ok = cronRoute({ queue: t.queue, logger: own.logger, secretName: 'LOG_TEST_SECRET', handlers: { LOG_CRON: async () => 'done' } });
    expect((await get(ok)).status).toBe(200);
    expect(own.lines()).toEqual([
      expect.objectContaining({ level: 'info', msg: 'cron drain finished', route: ['LOG_CRON'], processed: 1, completed: 1, stoppedBy: 'empty' }),
    ]);

    const broken = new DatabaseQueue({ connectionString: 'postgresql://nobody@127.0.0.1:1/none', poolMax: 1, logger: false });
    const failing = cronRoute({ queue: broken, logger: own.logger, secretName: 'LOG_TEST_SECRET', handlers: { LOG_CRON: async () => 'done' } });
    expect((await get(failing)).status).toBe(500);
    const failure = own.lines().at(-1)!;
    expect(failure).toMatchObject({ level: 'warn', msg: expect.stringContaining('cron route for LOG_CRON failed'), code: 'ECONNREFUSED' });
    expect(failure).not.toHaveProperty('err');
    await broken.close();

    const buggy = cronRoute({
      queue: t.queue,
      logger: own.logger,
      secretName: 'LOG_TEST_SECRET',
      handlers: { LOG_CRON: async () => 'done' },
      onResult: () => {
        throw new TypeError('metrics broke');
      },
    });
    expect((await get(buggy)).status).toBe(500);
    expect(own.lines().at(-1)).toMatchObject({
      level: 'error',
      err: { type: 'TypeError', message: 'metrics broke', stack: expect.stringContaining('logging.test.ts') },
    });
  });

  it('logger: false writes nothing; a bad logger is a ValidationError naming the option', async () => {
    const silent = new DatabaseQueue({ connectionString: db.current.url, poolMax: 1, logger: false });
    const job = (await silent.enqueue({ jobType: 'LOG_SILENT' }))!;
    await silent.failJob((await silent.claimJob(['LOG_SILENT']))!, new Error('quiet'));
    expect(log.lines().some((l) => l.jobId === job.id)).toBe(false);
    await silent.close();
    expect(() => new DatabaseQueue({ connectionString: db.current.url, logger: { info() {} } as unknown as Logger })).toThrow(
      /logger.*debug, info, warn and error/,
    );
  });

  it('a pool connection the server ends is a warn line, not a crash', async () => {
    const own = memoryLogger();
    const url = new URL(db.current.url);
    url.searchParams.set('application_name', 'conveyor_log_test');
    const q = new DatabaseQueue({ connectionString: url.toString(), poolMax: 1, logger: own.logger });
    await q.getQueueStats(); // leaves one idle connection in the pool
    const killer = new pg.Client({ connectionString: db.current.url });
    await killer.connect();
    await killer.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                         WHERE application_name = 'conveyor_log_test'`);
    await killer.end();
    await until(() => own.lines().length > 0, 5_000);
    expect(own.lines()[0]).toMatchObject({ level: 'warn', msg: expect.stringContaining('idle database connection lost'), code: '57P01' });
    await q.close();
  });
});
