/**
 * DatabaseQueue: the public face of Conveyor's queue.
 *
 *   import { DatabaseQueue } from 'pg-conveyor';
 *   await DatabaseQueue.enqueue({ jobType: 'INGEST_DATA', payload: { ... }, priority: 1 });
 *   const job = await DatabaseQueue.claimJob(['INGEST_DATA']);
 *   if (job) await DatabaseQueue.completeJob(job.job_id, { savedCount: 1000 });
 *
 * The static methods (the documented seed API) use a default instance built from DATABASE_URL.
 * Apps that need several queues or their own pool create instances:
 *
 *   const queue = new DatabaseQueue({ connectionString, poolMax: 3 });
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { DEFAULT_BACKOFF } from './backoff.js';
import { Claimer, type ClaimOptions, type PausedType, type TypeLimits } from './claim.js';
import { isBehindPgBouncer, parseQueueOptions, withoutPgBouncerParam, type QueueOptionsInput } from './config.js';
import { Enqueuer, type EnqueueOptions } from './enqueue.js';
import { ConfigError, type QueueError } from './errors.js';
import { QueueEventEmitter } from './events.js';
import { toExecutor } from '../sql/executor.js';
import type { Clock } from './clock.js';
import { Finisher } from './finish.js';
import { resolveLogger, type Logger } from '../observability/log.js';
import { logQueueEvents } from '../observability/queue-log.js';
import * as maintenance from './job-actions.js';
import { ClaimRegistry, type JobRef, type QueueCore } from './queue-core.js';
import { nowParam } from './clock.js';
import * as find from '../console/find.js';
import { parseJobTypes } from './job-input.js';
import { typeHandlersSeen } from '../sql/type-limits.js';
import * as history from '../console/history.js';
import type { History, HistoryRange } from '../console/history.js';
import type { BulkAction, BulkActionName, FoundJobs, JobCount, JobFilter } from '../console/find.js';
import * as reads from './reads.js';
import type { SnapshotHolder, TypeStats } from './reads.js';
import * as recurring from '../schedules/recurring.js';
import type { ScheduleInfo } from '../schedules/recurring.js';
import type { ScheduleInput } from '../schedules/schedule-input.js';
import type { EnqueueInput, Job, JobStatus, ListJobsFilter, OldestPendingJob, QueueStats, ThroughputPoint } from './types.js';

export * from './errors.js';
export type * from './types.js';
export { ManualClock, type Clock } from './clock.js';
export { createLogger, isExpectedFault, type Logger, type LoggerOptions } from '../observability/log.js';
export type { JobRef } from './queue-core.js';
export type { EnqueueOptions } from './enqueue.js';
export type { ScheduleInfo } from '../schedules/recurring.js';
export type { SnapshotHolder, TypeStats } from './reads.js';
export type { History, HistoryPoint, HistoryRange } from '../console/history.js';
export type { BulkAction, BulkActionName, FoundJobs, JobCount, JobFilter } from '../console/find.js';
export type { ClaimOptions, PausedType, TypeLimits } from './claim.js';

/**
 * Session setting for connections that run the queue's prepared statements. Left to itself,
 * Postgres re-plans them on every execution (it estimates a custom plan cheaper than the generic
 * one for a claim with a parameter LIMIT), and planning costs more than running them: measured,
 * the generic plan nearly doubles claim+complete throughput. It affects only named statements;
 * unnamed ones (everything else pg and Prisma send) are planned per execution as always.
 * Pass it in the `options` of a pool you give the queue: `new pg.Pool({ options: PREPARED_SESSION_OPTIONS })`.
 */
export const PREPARED_SESSION_OPTIONS = '-c plan_cache_mode=force_generic_plan';

/** The startup options of a pool the queue opens: the statement bounds, and prepared-statement planning when it prepares. */
function sessionOptions(prepare: boolean, statementTimeoutMs: number, lockTimeoutMs: number): string {
  return `${prepare ? `${PREPARED_SESSION_OPTIONS} ` : ''}-c statement_timeout=${statementTimeoutMs} -c lock_timeout=${lockTimeoutMs}`;
}

/**
 * The queue's public methods, each handing over to the part that does the work (enqueue.ts,
 * claim.ts, finish.ts, maintenance.ts, reads.ts, recurring.ts), which share one QueueCore.
 */
export class DatabaseQueue {
  readonly events = new QueueEventEmitter();
  readonly pool: pg.Pool;
  readonly workerId: string;
  /** Where this queue's log lines go (and its workers', unless they are given their own). */
  readonly logger: Logger;
  /** The test clock this queue was given, if any (its time replaces SQL now()). */
  readonly clock: Clock | undefined;
  /** Whether its statements are prepared per connection (off behind PgBouncer in transaction mode). */
  readonly preparedStatements: boolean;
  private readonly core: QueueCore;
  private readonly ownsPool: boolean;
  private readonly enqueuer: Enqueuer;
  private readonly claimer: Claimer;
  private readonly finisher: Finisher;

  constructor(options: QueueOptionsInput & { pool?: pg.Pool }) {
    const parsed = parseQueueOptions(options);
    const { pool, connectionString } = options;
    if (!pool && !connectionString) {
      throw new ConfigError('DatabaseQueue needs a pool or a connectionString (or set DATABASE_URL for the static API)');
    }
    this.ownsPool = !pool;
    const behindPgBouncer = isBehindPgBouncer(connectionString);
    const prepare = parsed.preparedStatements ?? !behindPgBouncer;
    // Session settings go in the startup packet, which PgBouncer refuses: behind it, set the
    // timeouts on the database role instead (README, "What it survives").
    const startup = behindPgBouncer ? undefined : sessionOptions(prepare, parsed.statementTimeoutMs, parsed.lockTimeoutMs);
    this.pool =
      pool ??
      new pg.Pool({
        connectionString: connectionString === undefined ? undefined : withoutPgBouncerParam(connectionString),
        max: parsed.poolMax,
        ...(startup ? { options: startup } : {}),
      });
    // An idle client dropped by the server (restart, pg_terminate_backend) must not crash the app;
    // the pool replaces it on next use.
    if (this.ownsPool) this.pool.on('error', (error) => this.events.emit('pool:error', error));
    this.logger = resolveLogger(parsed.logger);
    this.clock = parsed.clock;
    this.preparedStatements = prepare;
    logQueueEvents(this.events, this.logger);
    this.workerId = parsed.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.core = {
      db: toExecutor(this.pool, { prepare }),
      pool: this.pool,
      prepare,
      options: parsed,
      backoff: { ...DEFAULT_BACKOFF, ...parsed.backoff },
      clock: parsed.clock,
      events: this.events,
      workerId: this.workerId,
      claims: new ClaimRegistry(),
    };
    this.enqueuer = new Enqueuer(this.core);
    this.claimer = new Claimer(this.core);
    this.finisher = new Finisher(this.core, (input, index) => this.enqueuer.toNewRow(input, index));
  }

  // ---------------------------------------------------------------- enqueue

  async enqueue<P = unknown>(job: EnqueueInput<P>, options: EnqueueOptions = {}): Promise<Job<P>> {
    const [created] = await this.enqueuer.enqueueMany([job], options);
    return created as Job<P>;
  }

  /** Inserts all jobs in one statement: all are created or, on any invalid job, none. */
  enqueueMany<P = unknown>(jobs: EnqueueInput<P>[], options: EnqueueOptions = {}): Promise<Job<P>[]> {
    return this.enqueuer.enqueueMany(jobs, options);
  }

  // ---------------------------------------------------------------- claim

  /** Atomically claims the next ready job of these types, or returns null. */
  async claimJob<P = unknown>(workerTypes: string[], options: ClaimOptions = {}): Promise<Job<P> | null> {
    const [job] = await this.claimer.claimJobs<P>(workerTypes, 1, options);
    return job ?? null;
  }

  /** Claims up to `limit` ready jobs in one statement, highest priority first. */
  claimJobs<P = unknown>(workerTypes: string[], limit: number, options: ClaimOptions = {}): Promise<Job<P>[]> {
    return this.claimer.claimJobs<P>(workerTypes, limit, options);
  }

  /**
   * Limits for a job type, across every worker, process and cron invocation:
   * `concurrency` jobs PROCESSING at once at most; `rate` claims per period at most
   * (e.g. `{ limit: 10, periodMs: 60_000 }`: 10 a minute). `null` removes a limit.
   */
  setTypeLimits(jobType: string, limits: TypeLimits): Promise<void> {
    return this.claimer.setTypeLimits(jobType, limits);
  }

  /**
   * Pauses a job type: from the moment this returns, no claim of any worker, drain or cron tick
   * takes a job of it (the claim statement skips it; nothing to restart). Running jobs finish,
   * and jobs keep being enqueued. Answers false when it was paused already.
   */
  pauseType(jobType: string, options: { by?: string } = {}): Promise<boolean> {
    return this.claimer.pauseType(jobType, options);
  }

  /** Resumes a paused type and wakes listening workers for it. Answers false when it was not paused. */
  resumeType(jobType: string): Promise<boolean> {
    return this.claimer.resumeType(jobType);
  }

  /**
   * Notes that this process handles these types (the console shows jobs of a type nothing has
   * handled for 15 minutes as unhandled). Workers and drainQueue call it; a claim loop of your
   * own may too. Writes at most once per type every 30 s.
   */
  noteHandledTypes(jobTypes: string[]): Promise<void> {
    return typeHandlersSeen(this.core.db, { types: parseJobTypes(jobTypes), by: this.core.workerId, now: nowParam(this.core.clock) });
  }

  pausedTypes(): Promise<PausedType[]> {
    return this.claimer.pausedTypes();
  }

  /**
   * Per job type: pending and running counts, the last hour's completions, failures, failure rate
   * and p50/p95 run time, the longest wait of a due job, limits and whether it is paused.
   */
  typeStats(): Promise<TypeStats[]> {
    return reads.typeStats(this.core);
  }

  /** The open transaction holding back vacuum longest, or null (see reads.oldestSnapshotHolder). */
  oldestSnapshotHolder(): Promise<SnapshotHolder | null> {
    return reads.oldestSnapshotHolder(this.core);
  }

  /** The job whose completion enqueued this one, and the jobs this one's completion enqueued (up to 50). */
  getJobLinks(jobId: string): Promise<{ parentId: string | null; childIds: string[] }> {
    return reads.getJobLinks(this.core, jobId);
  }

  // ---------------------------------------------------------------- finding and bulk actions

  /**
   * Jobs matching `filter`, newest first, `limit` (default 50) at a time. Each call reads at most
   * FIND_WINDOW rows, so with a filter that matches rarely a page may hold fewer than `limit` jobs
   * and still have a `nextCursor`: the search goes on from there.
   */
  findJobs(filter: JobFilter, options: { limit?: number; cursor?: string | null } = {}): Promise<FoundJobs> {
    return find.findJobs(this.core, filter, options);
  }

  /** How many jobs match `filter` (a bulk action's dry run); `complete: false` when `budgetMs` ran out first. */
  countJobs(filter: JobFilter, options: { budgetMs?: number } = {}): Promise<JobCount> {
    return find.countJobs(this.core, filter, options);
  }

  /**
   * Retries (FAILED, CANCELLED), cancels (PENDING, PROCESSING) or deletes (finished) every job
   * matching `filter`, in bounded batches, recorded in an audit row. Runs for up to `budgetMs`;
   * continue with continueBulkAction(id) until `finishedAt` is set.
   */
  startBulkAction(input: { action: BulkActionName; filter: JobFilter; requestedBy?: string; matched?: number; budgetMs?: number }): Promise<BulkAction> {
    return find.startBulkAction(this.core, input);
  }

  continueBulkAction(bulkId: string, options: { budgetMs?: number } = {}): Promise<BulkAction> {
    return find.continueBulkAction(this.core, bulkId, options);
  }

  getBulkAction(bulkId: string): Promise<BulkAction | null> {
    return find.getBulkAction(this.core, bulkId);
  }

  /** The audit log of bulk actions, newest first. */
  listBulkActions(options: { limit?: number } = {}): Promise<BulkAction[]> {
    return find.listBulkActions(this.core, options);
  }

  // ---------------------------------------------------------------- recurring jobs

  /** Registers (or updates) a recurring job; registering the same definition again is a no-op. */
  schedule(name: string, input: ScheduleInput): Promise<void> {
    return recurring.schedule(this.core, name, input);
  }

  /** Every schedule: cron, time zone, paused or not, the last slot fired and its job's status, the next slot. */
  listSchedules(): Promise<ScheduleInfo[]> {
    return recurring.listSchedules(this.core);
  }

  /**
   * The stored schedules become exactly `declared` (by name): each registered, every other one
   * deleted, in one transaction. Call it at start-up, so a schedule removed from the code stops.
   */
  syncSchedules(declared: Record<string, ScheduleInput>): Promise<{ removed: string[] }> {
    return recurring.syncSchedules(this.core, declared);
  }

  /** A paused schedule fires nothing until resumed; registering it again does not resume it. */
  pauseSchedule(name: string): Promise<boolean> {
    return recurring.setSchedulePaused(this.core, name, true);
  }

  resumeSchedule(name: string): Promise<boolean> {
    return recurring.setSchedulePaused(this.core, name, false);
  }

  /** Enqueues a schedule's job now (its slots fire as usual); null when there is no such schedule. */
  runScheduleNow(name: string): Promise<Job | null> {
    return recurring.runScheduleNow(this.core, name, (job) => this.enqueue(job));
  }

  /** Removes a recurring job; true if it existed. */
  unschedule(name: string): Promise<boolean> {
    return recurring.unschedule(this.core, name);
  }

  /**
   * Enqueues the latest due slot of every schedule, exactly once per slot across all callers
   * (unique key per slot). Workers call it on each poll; cron routes on each invocation.
   */
  fireDueSchedules(): Promise<Job[]> {
    return recurring.fireDueSchedules(this.core, (jobs) => this.enqueuer.enqueueMany(jobs));
  }

  // ---------------------------------------------------------------- finish a claimed job

  /**
   * PROCESSING -> COMPLETED, storing `result` and clearing the payload. `enqueue` adds follow-up
   * jobs in the same statement: they exist if and only if this completion happened.
   */
  completeJob(jobRef: JobRef, result?: unknown, options: { enqueue?: EnqueueInput[] } = {}): Promise<Job> {
    return this.finisher.completeJob(jobRef, result, options);
  }

  /**
   * Records a failed attempt: back to PENDING after the backoff delay, or FAILED when attempts are
   * spent or `error` is a NonRetryableError. Only the error's message is stored (capped at 1,000
   * characters), never the payload.
   */
  failJob(jobRef: JobRef, error: unknown): Promise<Job> {
    return this.finisher.failJob(jobRef, error);
  }

  /**
   * Completes claimed jobs in one statement of their own, now (a batch handler's jobs), each
   * fenced by its attempt. Answers each job in order: the completed Job, or the error completeJob
   * would have thrown for it (LeaseLostError when it was taken away meanwhile).
   */
  completeJobs(jobs: Job[], results: unknown[]): Promise<(Job | QueueError)[]> {
    return this.finisher.completeJobs(jobs, results);
  }

  /** Fails claimed jobs in one statement of their own, now; answers as completeJobs does. */
  failJobs(jobs: Job[], errors: unknown[]): Promise<(Job | QueueError)[]> {
    return this.finisher.failJobs(jobs, errors);
  }

  /** Hands an unstarted claim back: PENDING again at once, its attempt not counted. */
  releaseJob(job: Pick<Job, 'id' | 'attempts'>): Promise<Job> {
    return this.finisher.releaseJob(job);
  }

  /** Extends the lease of jobs this caller still holds; returns the ids it still holds. */
  extendLeases(jobs: Pick<Job, 'id' | 'attempts'>[], leaseMs: number = this.core.options.leaseMs): Promise<Set<string>> {
    return this.finisher.extendLeases(jobs, leaseMs);
  }

  /** The lease claims get when no other is given. */
  get leaseMs(): number {
    return this.core.options.leaseMs;
  }

  updateProgress(jobRef: JobRef, current: number, total: number, message?: string): Promise<void> {
    return this.finisher.updateProgress(jobRef, current, total, message);
  }

  // ---------------------------------------------------------------- admin actions and maintenance

  /** FAILED or CANCELLED -> PENDING, runnable at once (with one more attempt if all were spent). */
  retryJob(jobId: string): Promise<Job> {
    return maintenance.retryJob(this.core, jobId);
  }

  /** PENDING or PROCESSING -> CANCELLED. Finished jobs refuse with InvalidJobStateError. */
  cancelJob(jobId: string): Promise<Job> {
    return maintenance.cancelJob(this.core, jobId);
  }

  /** Deletes COMPLETED, FAILED and CANCELLED jobs that finished more than `olderThanDays` ago. */
  cleanup(olderThanDays?: number): Promise<number> {
    return maintenance.cleanup(this.core, olderThanDays);
  }

  /** Deletes every job of `jobType` that is not PROCESSING. Returns how many. */
  flushType(jobType: string): Promise<number> {
    return maintenance.flushType(this.core, jobType);
  }

  /** Returns expired-lease jobs to PENDING (or FAILED when spent). Returns how many it rescued. */
  rescueExpired(): Promise<number> {
    return this.claimer.rescueExpired();
  }

  // ---------------------------------------------------------------- reads

  getJob<P = unknown>(jobId: string): Promise<Job<P> | null> {
    return reads.getJob<P>(this.core, jobId);
  }

  listJobs(filter: ListJobsFilter = {}): Promise<Job[]> {
    return reads.listJobs(this.core, filter);
  }

  /**
   * Counts by status. Exact while the table is small (or with `{ exact: true }`); on a large table,
   * PENDING and PROCESSING stay exact up to statsExactLimit (read off their partial indexes) and
   * the finished states are estimated from the planner's statistics, so the call stays in
   * milliseconds at millions of rows.
   */
  getQueueStats(options: { exact?: boolean } = {}): Promise<QueueStats> {
    return reads.getQueueStats(this.core, options);
  }

  /** PENDING and PROCESSING counts per job type (exact; both sets are small in a healthy queue). */
  countActiveByType(): Promise<{ jobType: string; status: JobStatus; count: number }[]> {
    return reads.countActiveByType(this.core);
  }

  /** Completed and failed jobs per minute over the last `minutes` (default 60). */
  getThroughput(minutes = 60): Promise<ThroughputPoint[]> {
    return reads.getThroughput(this.core, minutes);
  }

  /**
   * Completed, failed and cancelled jobs over the last hour (per minute), 24 hours (per 15
   * minutes) or 7 days (per hour), of every type or one. Counted apart from the job rows, so a
   * retry or cleanup does not change the past.
   */
  getHistory(options: { range?: HistoryRange; jobType?: string } = {}): Promise<History> {
    return history.history(this.core, options);
  }

  /** FAILED jobs, most recently failed first; pass `nextCursor` back for the next page. */
  listFailedJobs(filter: { jobType?: string; limit?: number; cursor?: string } = {}): Promise<{ jobs: Job[]; nextCursor: string | null }> {
    return reads.listFailedJobs(this.core, filter);
  }

  /**
   * The due job that has waited longest for a worker, and for how long (from its run_at: a job
   * delayed an hour is not late while its hour runs). Null when no job is due.
   */
  oldestPendingJob(): Promise<OldestPendingJob | null> {
    return reads.oldestPendingJob(this.core);
  }

  async close(): Promise<void> {
    await this.enqueuer.settled();
    if (this.ownsPool) await this.pool.end();
  }

  // ---------------------------------------------------------------- the static (seed) API

  private static defaultInstance: DatabaseQueue | undefined;

  /** Sets the instance the static methods use (replacing one built from DATABASE_URL). */
  static configure(options: QueueOptionsInput & { pool?: pg.Pool }): DatabaseQueue {
    DatabaseQueue.defaultInstance = new DatabaseQueue(options);
    return DatabaseQueue.defaultInstance;
  }

  static get default(): DatabaseQueue {
    if (!DatabaseQueue.defaultInstance) {
      const connectionString = process.env.DATABASE_URL;
      if (!connectionString) {
        throw new ConfigError('DATABASE_URL is not set: set it, or call DatabaseQueue.configure({ connectionString })');
      }
      DatabaseQueue.defaultInstance = new DatabaseQueue({ connectionString });
    }
    return DatabaseQueue.defaultInstance;
  }

  /** Closes the default instance's pool (tests, scripts that must exit). */
  static async closeDefault(): Promise<void> {
    const instance = DatabaseQueue.defaultInstance;
    DatabaseQueue.defaultInstance = undefined;
    await instance?.close();
  }

  static enqueue<P = unknown>(job: EnqueueInput<P>, options?: EnqueueOptions) {
    return DatabaseQueue.default.enqueue(job, options);
  }
  static enqueueMany<P = unknown>(jobs: EnqueueInput<P>[], options?: EnqueueOptions) {
    return DatabaseQueue.default.enqueueMany(jobs, options);
  }
  static claimJob<P = unknown>(workerTypes: string[], options?: ClaimOptions) {
    return DatabaseQueue.default.claimJob<P>(workerTypes, options);
  }
  static claimJobs<P = unknown>(workerTypes: string[], limit: number, options?: ClaimOptions) {
    return DatabaseQueue.default.claimJobs<P>(workerTypes, limit, options);
  }
  static completeJob(jobRef: JobRef, result?: unknown, options?: { enqueue?: EnqueueInput[] }) {
    return DatabaseQueue.default.completeJob(jobRef, result, options);
  }
  static failJob(jobRef: JobRef, error: unknown) {
    return DatabaseQueue.default.failJob(jobRef, error);
  }
  static updateProgress(jobRef: JobRef, current: number, total: number, message?: string) {
    return DatabaseQueue.default.updateProgress(jobRef, current, total, message);
  }
  static getQueueStats(options?: { exact?: boolean }) {
    return DatabaseQueue.default.getQueueStats(options);
  }
  static cleanup(olderThanDays?: number) {
    return DatabaseQueue.default.cleanup(olderThanDays);
  }
  static retryJob(jobId: string) {
    return DatabaseQueue.default.retryJob(jobId);
  }
  static cancelJob(jobId: string) {
    return DatabaseQueue.default.cancelJob(jobId);
  }
  static getJob<P = unknown>(jobId: string) {
    return DatabaseQueue.default.getJob<P>(jobId);
  }
  static listJobs(filter?: ListJobsFilter) {
    return DatabaseQueue.default.listJobs(filter);
  }
  static oldestPendingJob() {
    return DatabaseQueue.default.oldestPendingJob();
  }
  static rescueExpired() {
    return DatabaseQueue.default.rescueExpired();
  }
}
