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
 *
 * Each method hands over to the part that does the work (enqueue.ts, claim.ts, finish.ts,
 * job-actions.ts, reads.ts), which share one QueueCore; `queue.console` and `queue.schedules`
 * hold the operator's reads and actions and the recurring jobs.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { QueueConsole } from '../console/queue-console.js';
import { resolveLogger, type Logger } from '../observability/log.js';
import { logQueueEvents } from '../observability/queue-log.js';
import { QueueSchedules } from '../schedules/queue-schedules.js';
import { InvocationSlots } from '../runtime/invocation-slots.js';
import { toExecutor, type Queryable } from '../sql/executor.js';
import { jobPromoteIfPending } from '../sql/jobs-write.js';
import { typeHandlersSeen } from '../sql/type-limits.js';
import { DEFAULT_BACKOFF } from './backoff.js';
import { Claimer, type ClaimOptions, type PausedType, type TypeLimits } from './claim.js';
import { nowParam, type Clock } from './clock.js';
import { parseQueueOptions, type QueueOptionsInput } from './config.js';
import { openQueuePool } from './connection.js';
import { Enqueuer, type EnqueueOptions } from './enqueue.js';
import { ConfigError, ValidationError, type QueueError } from './errors.js';
import { isJobSpec, specEnqueueArgs, type JobOverrides, type JobSpec, type PlainJobInput } from './job-spec.js';
import { checkDatabase } from './database-check.js';
import { QueueEventEmitter } from './events.js';
import { Finisher } from './finish.js';
import * as maintenance from './job-actions.js';
import { parseJobId, parseJobTypes } from './job-input.js';
import type { JobQueue } from './queue-api.js';
import { ClaimRegistry, type JobRef, type QueueCore } from './queue-core.js';
import * as reads from './reads.js';
import type { SnapshotHolder } from './reads.js';
import type { EnqueueInput, Job, JobStatus, ListJobsFilter, OldestPendingJob, PendingOutlook, QueueStats } from './types.js';

export class DatabaseQueue implements JobQueue {
  readonly events = new QueueEventEmitter();
  readonly pool: pg.Pool;
  readonly workerId: string;
  /** Where this queue's log lines go (and its workers', unless they are given their own). */
  readonly logger: Logger;
  /** The test clock this queue was given, if any (its time replaces SQL now()). */
  readonly clock: Clock | undefined;
  /** Whether its statements are prepared per connection (off behind PgBouncer in transaction mode). */
  readonly preparedStatements: boolean;
  /** Finding jobs, bulk actions, history and type figures: what an operator's screen reads and does. */
  readonly console: QueueConsole;
  /** Recurring jobs: register, list, pause, run now. */
  readonly schedules: QueueSchedules;
  /** Invocations of fanned-out cron routes running at once, counted across instances. */
  readonly invocations: InvocationSlots;
  private readonly core: QueueCore;
  private readonly ownsPool: boolean;
  /** The connection string as given (or the given pool's), for explaining connection errors: never logged whole. */
  private readonly connectionTarget: string | undefined;
  private readonly enqueuer: Enqueuer;
  private readonly claimer: Claimer;
  private readonly finisher: Finisher;

  constructor(options: QueueOptionsInput & { pool?: pg.Pool }) {
    const parsed = parseQueueOptions(options);
    const { pool, ownsPool, preparedStatements: prepare, connectionTarget } = openQueuePool(options, parsed);
    this.ownsPool = ownsPool;
    this.connectionTarget = connectionTarget;
    this.pool = pool;
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
    this.console = new QueueConsole(this.core);
    this.schedules = new QueueSchedules(this.core, (jobs) => this.enqueuer.enqueueMany(jobs));
    this.invocations = new InvocationSlots(this.core);
  }

  // ---------------------------------------------------------------- enqueue

  /**
   * Creates a job: `enqueue(sendReceipt, payload, options)` for a defined job (defineJob: the
   * payload is checked by tsc and by its schema), or `enqueue({ jobType, payload, ... }, options)`.
   * `options.tx` inserts it inside your transaction (pg client or Prisma).
   */
  // The defined-job overload comes last: tsc reports the last overload's complaint, so a wrong
  // payload for a defined job is told as such (orderId: number is not string).
  enqueue<P = unknown>(job: PlainJobInput<P>, options?: EnqueueOptions): Promise<Job<P>>;
  enqueue<In, Out>(job: JobSpec<In, Out>, payload: In, options?: EnqueueOptions & JobOverrides): Promise<Job<Out>>;
  async enqueue(job: EnqueueInput | JobSpec, ...rest: unknown[]): Promise<Job> {
    const [inputs, options] = isJobSpec(job) ? specEnqueueArgs(job, [rest[0]], rest[1]) : [[job], rest[0] as EnqueueOptions | undefined];
    const [created] = await this.enqueuer.enqueueMany(inputs, options as EnqueueOptions);
    return created!;
  }

  /**
   * Inserts all jobs in one statement: all are created or, on any invalid job, none.
   * `enqueueMany(sendReceipt, payloads, options)` for many of one defined type; mix types with
   * `enqueueMany([sendReceipt.job(p), resizeImage.job(q)])`.
   */
  enqueueMany<P = unknown>(jobs: PlainJobInput<P>[], options?: EnqueueOptions): Promise<Job<P>[]>;
  /** Jobs of several payload types (`[a.job(p), b.job(q)]`): each answered as a Job of unknown payload. */
  enqueueMany(jobs: PlainJobInput[], options?: EnqueueOptions): Promise<Job[]>;
  enqueueMany<In, Out>(job: JobSpec<In, Out>, payloads: In[], options?: EnqueueOptions & JobOverrides): Promise<Job<Out>[]>;
  async enqueueMany(jobs: EnqueueInput[] | JobSpec, ...rest: unknown[]): Promise<Job[]> {
    if (!isJobSpec(jobs)) return this.enqueuer.enqueueMany(jobs, (rest[0] ?? {}) as EnqueueOptions);
    if (!Array.isArray(rest[0])) throw new ValidationError(`enqueueMany(${jobs.type}, payloads): payloads must be an array`);
    const [inputs, options] = specEnqueueArgs(jobs, rest[0], rest[1]);
    return this.enqueuer.enqueueMany(inputs, options as EnqueueOptions);
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

  /** The open transaction holding back vacuum longest, or null (see reads.oldestSnapshotHolder). */
  oldestSnapshotHolder(): Promise<SnapshotHolder | null> {
    return reads.oldestSnapshotHolder(this.core);
  }

  /**
   * Connects and checks that the queue's tables are migrated to this version. Rejects with a
   * ConfigError that says what to do (start the server, fix the URL or the password, run
   * `npx conveyor migrate`); the Worker calls it before it reports started.
   */
  checkDatabase(): Promise<void> {
    return checkDatabase(this.core.db, this.connectionTarget);
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

  /**
   * Makes these PENDING jobs due now, if they were waiting for a later time (a delay, a retry's
   * backoff), and wakes listening workers; others are left as they are. With `tx`, inside that
   * transaction. Answers the ids it moved.
   */
  async runJobsNow(jobIds: string[], options: { tx?: Queryable } = {}): Promise<string[]> {
    const ids = jobIds.map((id) => parseJobId(id));
    const db = options.tx ? toExecutor(options.tx) : this.core.db;
    return (await jobPromoteIfPending(db, { ids, now: nowParam(this.core.clock) })).map((row) => row.id);
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

  /**
   * The due job that has waited longest for a worker, and for how long (from its run_at: a job
   * delayed an hour is not late while its hour runs). Null when no job is due.
   */
  oldestPendingJob(): Promise<OldestPendingJob | null> {
    return reads.oldestPendingJob(this.core);
  }

  /** What waits for a drain of these types: jobs due now (up to 1,000 per type and priority), and ms until the next comes due. */
  pendingOutlook(jobTypes: string[]): Promise<PendingOutlook> {
    return reads.pendingOutlook(this.core, jobTypes);
  }

  /** Sends the NOTIFYs still owed, then ends the pool it opened (not one it was given). A second call waits for the first. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.enqueuer.settled();
      if (this.ownsPool) await this.pool.end();
    })();
    return this.closing;
  }
  private closing: Promise<void> | undefined;

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

  static enqueue<P = unknown>(job: PlainJobInput<P>, options?: EnqueueOptions) {
    return DatabaseQueue.default.enqueue<P>(job, options);
  }
  static enqueueMany<P = unknown>(jobs: PlainJobInput<P>[], options?: EnqueueOptions) {
    return DatabaseQueue.default.enqueueMany<P>(jobs, options);
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
