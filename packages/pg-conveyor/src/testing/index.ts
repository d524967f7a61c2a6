/**
 * Helpers for testing code that uses the queue, against a real Postgres (no mocks):
 *
 *   import { freshDatabase, drainUntilEmpty, expectEnqueued, expectCompleted, ManualClock } from 'pg-conveyor/testing';
 *   const db = await freshDatabase(process.env.ADMIN_DATABASE_URL!);   // its own database, migrated
 *   const clock = new ManualClock(new Date('2026-01-01T00:00:00Z'));
 *   const queue = new DatabaseQueue({ connectionString: db.url, clock });   // SQL now() follows the clock too
 *   await signUp(queue, 'ada@example.com');
 *   const [job] = await expectEnqueued(queue, { jobType: 'SEND_EMAIL', payload: { to: 'ada@example.com' } });
 *   await drainUntilEmpty(queue, { SEND_EMAIL: sendEmail });
 *   await expectCompleted(queue, job, { sent: true });
 *   await queue.close(); await db.drop();
 *
 * The assertions throw an Error that says what was found instead, so they work in any test runner.
 *
 * @module pg-conveyor/testing
 */
import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import pg from 'pg';
import type { DatabaseQueue } from '../core/database-queue.js';
import { drainQueue, type DrainResult } from '../runtime/drain.js';
import { ValidationError } from '../core/errors.js';
import { toExecutor } from '../sql/executor.js';
import { parseJobId, parseJobTypes } from '../core/job-input.js';
import { rowToJob } from '../sql/job-row.js';
import { migrate } from '../sql/migrate.js';
import { jobListMatching } from '../sql/jobs-read.js';
import type { HandlerRegistry } from '../runtime/worker-types.js';
import type { Job, JobStatus } from '../core/types.js';

export { ManualClock, type Clock } from '../core/clock.js';

/**
 * A new database on the server `adminUrl` points at (a user allowed to CREATE DATABASE), with
 * the queue's tables made by its migrations. `drop()` removes it, closing what still uses it.
 */
export async function freshDatabase(adminUrl: string, options: { prefix?: string } = {}): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const prefix = options.prefix ?? 'conveyor_test';
  if (!/^[a-z_][a-z0-9_]{0,40}$/.test(prefix)) throw new ValidationError('freshDatabase: prefix must be 1-41 characters of a-z 0-9 _');
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  await migrate({ connectionString: url.toString() });
  return { url: url.toString(), name, drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/**
 * Runs the handlers' job types until none is ready (due now by the queue's clock), including
 * follow-ups the jobs enqueue and retries that fall due. Stops after `maxJobs` (default 10,000)
 * so a job that re-enqueues itself forever fails the test instead of hanging it.
 */
export async function drainUntilEmpty(queue: DatabaseQueue, handlers: HandlerRegistry, options: { maxJobs?: number } = {}): Promise<DrainResult> {
  const maxJobs = options.maxJobs ?? 10_000;
  const total: DrainResult = { success: true, processed: 0, completed: 0, failed: 0, released: 0, lost: 0, duration: 0, stoppedBy: 'empty', remaining: null };
  for (;;) {
    const left = maxJobs - total.processed - total.released - total.lost;
    if (left <= 0) throw new Error(`drainUntilEmpty: still not empty after ${maxJobs} jobs (does a job re-enqueue itself?)`);
    // Due by the queue's clock (a test's ManualClock): waiting in real time for a timer would not move it.
    const result = await drainQueue(queue, { handlers, maxJobs: left, budgetMs: 24 * 3_600_000, waitForTimers: false });
    for (const key of ['processed', 'completed', 'failed', 'released', 'lost', 'duration'] as const) total[key] += result[key];
    total.remaining = result.remaining;
    if (result.stoppedBy === 'empty') return total;
  }
}

/**
 * The jobs of `jobType` whose payload contains `payload` (and whose status is `status`, when
 * given), oldest first; throws unless there are `count` of them (default: at least one).
 */
export async function expectEnqueued<P = unknown>(
  queue: DatabaseQueue,
  match: { jobType: string; payload?: Record<string, unknown>; status?: JobStatus },
  options: { count?: number } = {},
): Promise<Job<P>[]> {
  const [jobType] = parseJobTypes([match.jobType]);
  const db = toExecutor(queue.pool);
  const rows = await jobListMatching(db, {
    jobType: jobType!,
    payload: match.payload === undefined ? null : JSON.stringify(match.payload),
    status: match.status ?? null,
    limit: 1_000,
  });
  const jobs = rows.map((row) => rowToJob<P>(row));
  const expected = options.count;
  if (expected === undefined ? jobs.length === 0 : jobs.length !== expected) {
    const wanted = `${expected ?? 'at least 1'} ${match.jobType} job(s)${match.payload ? ` with payload containing ${JSON.stringify(match.payload)}` : ''}${match.status ? ` in ${match.status}` : ''}`;
    const others = (await jobListMatching(db, { jobType: jobType!, payload: null, status: null, limit: 5 })).map((row) => rowToJob(row));
    throw new Error(
      `expectEnqueued: wanted ${wanted}, found ${jobs.length}; ${match.jobType} jobs there are: ${others.length ? others.map(describe).join('; ') : 'none'}`,
    );
  }
  return jobs;
}

/** The job, COMPLETED (with `result`, when given, deeply equal to its result); throws saying what it is instead. */
export async function expectCompleted(queue: DatabaseQueue, job: string | Pick<Job, 'id'>, result?: unknown): Promise<Job> {
  const id = parseJobId(typeof job === 'string' ? job : job?.id);
  const found = await queue.getJob(id);
  if (!found) throw new Error(`expectCompleted: job ${id} does not exist`);
  if (found.status !== 'COMPLETED') throw new Error(`expectCompleted: job ${id} is ${describe(found)}`);
  if (result !== undefined && !isDeepStrictEqual(found.result, result)) {
    throw new Error(`expectCompleted: job ${id} completed with ${JSON.stringify(found.result)}, not ${JSON.stringify(result)}`);
  }
  return found;
}

function describe(job: Job): string {
  const lastError = job.errors.at(-1);
  return `${job.status} (attempt ${job.attempts}/${job.maxAttempts}, payload ${JSON.stringify(job.payload)}${lastError ? `, last error: ${lastError.message}` : ''})`;
}
