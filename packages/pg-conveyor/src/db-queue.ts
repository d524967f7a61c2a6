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
import { z } from 'zod';
import { jitterFactor, retryDelayTable, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
import { nowParam, type Clock } from './clock.js';
import { DEFAULTS, parseQueueOptions, type QueueOptionsInput } from './config.js';
import {
  ConfigError, InvalidJobStateError, JobNotFoundError, LeaseLostError, NonRetryableError, QueueError, ValidationError,
} from './errors.js';
import { Batcher } from './batcher.js';
import { Wakeups } from './wakeups.js';
import { QueueEventEmitter } from './events.js';
import { toExecutor, type Queryable, type SqlExecutor } from './executor.js';
import {
  errorText, parseAttempt, parseClaimLimit, parseEnqueue, parseJobId, parseJobTypes, parseListFilter, parseMinutes,
  parseOlderThanDays, parseProgress, toStoredJson,
} from './job-input.js';
import { newJobId } from './job-id.js';
import { newJobFromInsert, rowToJob, type JobRow } from './job-row.js';
import {
  jobCountActiveByType, jobCountActiveCapped, jobCountByStatus, jobCountFinishedPerMinute, jobGetById, jobGetOldestPending, jobListFailed,
  jobListRecent, jobStatusEstimates,
} from './queries/jobs-read.js';
import {
  jobCancelIfUnfinished, jobClaimAvailable, jobCompleteManyIfRunning, jobExtendLeaseIfRunning, jobCompleteIfRunning,
  jobCompleteIfRunningWithFollowUps, jobFailManyIfRunning, jobReleaseIfRunning, jobRetryIfFinishedUnsuccessfully, jobSetProgressIfRunning,
} from './queries/jobs-write.js';
import {
  carriesKeys, jobFindKeyHolders, jobInsertMany, jobInsertManySkippingTaken, jobNotifyReady, type InsertedJobRow, type NewJobRow,
} from './queries/jobs-insert.js';
import { MAINTENANCE_BATCH, jobDeleteFinishedBefore, jobDeleteNotRunningOfType, jobRescueExpired } from './queries/jobs-maintenance.js';
import { scheduleAdvance, scheduleDelete, scheduleListEnabled, scheduleUpsert } from './queries/schedules.js';
import { latestDueSlot, parseSchedule, slotKey, type ScheduleInput } from './schedules.js';
import {
  typeLimitAllowance, typeLimitConsumeTokens, typeLimitDelete, typeLimitList, typeLimitLockAndRefill, typeLimitUpsert,
} from './queries/type-limits.js';
import type { EnqueueInput, Job, JobStatus, ListJobsFilter, OldestPendingJob, QueueStats, ThroughputPoint } from './types.js';

export * from './errors.js';
export type * from './types.js';
export { ManualClock, type Clock } from './clock.js';

/** A job this caller claimed (carries the attempt that fences its updates), or a bare job id. */
export type JobRef = string | Pick<Job, 'id' | 'attempts'>;

export interface EnqueueOptions {
  /** Run the INSERT on the caller's connection, inside their transaction (pg client or Prisma tx). */
  tx?: Queryable;
}

export interface ClaimOptions {
  /** Lease for these claims; defaults to the queue's leaseMs. */
  leaseMs?: number;
}

/**
 * Session setting for connections that run the queue's prepared statements. Left to itself,
 * Postgres re-plans them on every execution (it estimates a custom plan cheaper than the generic
 * one for a claim with a parameter LIMIT), and planning costs more than running them: measured,
 * the generic plan nearly doubles claim+complete throughput. It affects only named statements;
 * unnamed ones (everything else pg and Prisma send) are planned per execution as always.
 * Pass it in the `options` of a pool you give the queue: `new pg.Pool({ options: PREPARED_SESSION_OPTIONS })`.
 */
export const PREPARED_SESSION_OPTIONS = '-c plan_cache_mode=force_generic_plan';

/** Claims this instance made and has not finished, so a bare job id is fenced by its attempt too. */
const MAX_TRACKED_CLAIMS = 100_000;

interface CompletionRequest { id: string; attempt: number; result: string | null }
interface FailureRequest { id: string; attempt: number | null; message: string; kind: 'error' | 'non_retryable'; final: boolean }
type CompletionChanges = Awaited<ReturnType<typeof jobCompleteManyIfRunning>>[number];

export class DatabaseQueue {
  readonly events = new QueueEventEmitter();
  readonly pool: pg.Pool;
  readonly workerId: string;
  private readonly db: SqlExecutor;
  private readonly ownsPool: boolean;
  private readonly options: ReturnType<typeof parseQueueOptions>;
  private readonly backoff: BackoffPolicy;
  private readonly clock: Clock | undefined;
  private readonly claims = new Map<string, number>();
  private readonly prepare: boolean;
  private lastRescueAt = Number.NEGATIVE_INFINITY;
  /** Completions of claimed jobs made at the same time (a worker's slots) share one statement. */
  private readonly completions = new Batcher<CompletionRequest, CompletionChanges | undefined>((requests) => this.completeMany(requests));
  /** Failures made at the same time (a batch handler's jobs, several slots) share one statement too. */
  private readonly failures = new Batcher<FailureRequest, JobRow | undefined>((requests) => this.failMany(requests));
  /** NOTIFYs for enqueues made on the queue's own connections. */
  private readonly wakeups = new Wakeups(
    (types) => jobNotifyReady(this.db, { types }),
    (error) => this.events.emit('pool:error', error),
  );

  constructor(options: QueueOptionsInput & { pool?: pg.Pool }) {
    this.options = parseQueueOptions(options);
    const { pool, connectionString } = options;
    if (!pool && !connectionString) {
      throw new ConfigError('DatabaseQueue needs a pool or a connectionString (or set DATABASE_URL for the static API)');
    }
    this.ownsPool = !pool;
    const behindPgBouncer = /[?&]pgbouncer=true(&|$)/.test(connectionString ?? '');
    const prepare = this.options.preparedStatements ?? !behindPgBouncer;
    // pg would pass an unknown `pgbouncer` parameter to the server as a setting: strip it.
    const pgConnectionString = connectionString?.replace(/([?&])pgbouncer=true(&|$)/, (_m, lead, tail) => (tail ? lead : ''));
    this.pool =
      pool ??
      new pg.Pool({
        connectionString: pgConnectionString,
        max: this.options.poolMax,
        ...(prepare ? { options: PREPARED_SESSION_OPTIONS } : {}),
      });
    // An idle client dropped by the server (restart, pg_terminate_backend) must not crash the app;
    // the pool replaces it on next use.
    if (this.ownsPool) this.pool.on('error', (error) => this.events.emit('pool:error', error));
    this.prepare = prepare;
    this.db = toExecutor(this.pool, { prepare });
    this.backoff = { ...DEFAULT_BACKOFF, ...this.options.backoff };
    this.clock = this.options.clock;
    this.workerId = this.options.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  }

  // ---------------------------------------------------------------- enqueue

  async enqueue<P = unknown>(job: EnqueueInput<P>, options: EnqueueOptions = {}): Promise<Job<P>> {
    const [created] = await this.enqueueMany([job], options);
    return created as Job<P>;
  }

  /** Inserts all jobs in one statement: all are created or, on any invalid job, none. */
  async enqueueMany<P = unknown>(jobs: EnqueueInput<P>[], options: EnqueueOptions = {}): Promise<Job<P>[]> {
    if (!Array.isArray(jobs)) throw new ValidationError('Invalid jobs: expected an array of jobs');
    if (jobs.length === 0) return [];
    const rows = jobs.map((job, index) => this.toNewRow(job, jobs.length === 1 ? undefined : index));
    const db = options.tx ? toExecutor(options.tx) : this.db;
    const now = nowParam(this.clock);
    const result: (Job<P> | undefined)[] = new Array(rows.length);
    // RETURNING's order is not promised: match the answer to the input by id (a plain insert's
    // answer is built in input order, and needs no map).
    const place = (inserted: InsertedJobRow[], positions: number[]) => {
      if (inserted.length === positions.length && inserted.every((r, k) => r.id === rows[positions[k]!]!.id)) {
        positions.forEach((idx, k) => (result[idx] = newJobFromInsert<P>(rows[idx]!, inserted[k]!)));
        return;
      }
      const byId = new Map(inserted.map((r) => [r.id, r]));
      for (const idx of positions) {
        const r = byId.get(rows[idx]!.id);
        if (r) result[idx] = newJobFromInsert<P>(rows[idx]!, r);
      }
    };
    place(await this.insert(db, rows, now, options.tx !== undefined), rows.map((_, idx) => idx));
    const created = result.filter((job): job is Job<P> => job !== undefined);
    if (created.length > 0) this.events.emit('job:enqueued', created);
    // Rows skipped for a dedupe or unique key resolve to the job holding the key.
    for (let round = 0; result.includes(undefined); round++) {
      const skipped = rows.map((row, idx) => ({ ...row, idx })).filter(({ idx }) => result[idx] === undefined);
      for (const holder of await jobFindKeyHolders(db, { jobs: skipped, now })) result[holder.idx] = { ...rowToJob<P>(holder), deduplicated: true };
      if (!result.includes(undefined) || round === 2) break;
      // A holder finished between the insert and the look-up: the key is free again, insert anew.
      const retry = skipped.filter(({ idx }) => result[idx] === undefined).map(({ idx }) => idx);
      place(await this.insert(db, retry.map((idx) => rows[idx]!), now, options.tx !== undefined), retry);
    }
    if (result.includes(undefined)) throw new QueueError('Could not enqueue or find the holder of a deduplication key; try again');
    for (const job of result) job!.deduplicated ??= false;
    return result as Job<P>[];
  }

  /** One INSERT statement; wakes workers in it, or leaves that to a trailing NOTIFY (wakeups.ts). */
  private async insert(db: SqlExecutor, jobs: NewJobRow[], now: Date | null, inCallersTx: boolean): Promise<InsertedJobRow[]> {
    const leading = inCallersTx || this.wakeups.takeLeading();
    try {
      let inserted: InsertedJobRow[];
      let readyTypes: string[];
      if (carriesKeys(jobs)) {
        inserted = await jobInsertManySkippingTaken(db, { jobs, now, notify: leading });
        readyTypes = inserted.filter((r) => r.run_at <= r.created_at).map((r) => r.job_type);
      } else {
        readyTypes = [...new Set(jobs.filter((job) => isDueNow(job, now)).map((job) => job.job_type))];
        const notify = leading && readyTypes.length > 0 ? readyTypes.join(',') : null;
        const answer = await jobInsertMany(db, { jobs, now, readyTypes: notify });
        inserted = jobs.map((job) => plainInsertedRow(job, answer.created_at, now));
      }
      if (!leading) this.wakeups.announce(new Set(readyTypes));
      return inserted;
    } finally {
      if (leading && !inCallersTx) this.wakeups.leadingDone();
    }
  }

  private toNewRow(input: unknown, index?: number): NewJobRow {
    const job = parseEnqueue(input, index);
    const scheduledFor = job.scheduledFor === undefined ? null : new Date(job.scheduledFor).toISOString();
    return {
      id: newJobId(),
      job_type: job.jobType,
      payloadJson: toStoredJson(job.payload, 'payload', this.options.maxPayloadBytes),
      priority: job.priority ?? DEFAULTS.priority,
      max_attempts: job.maxAttempts ?? this.options.defaultMaxAttempts,
      run_at: scheduledFor,
      delay_ms: job.delayMs ?? null,
      concurrency_key: job.concurrencyKey ?? null,
      dedupe_key: job.dedupe?.key ?? null,
      dedupe_window_ms: job.dedupe?.windowMs ?? null,
      unique_key: job.uniqueKey ?? null,
    };
  }

  // ---------------------------------------------------------------- claim

  /** Atomically claims the next ready job of these types, or returns null. */
  async claimJob<P = unknown>(workerTypes: string[], options: ClaimOptions = {}): Promise<Job<P> | null> {
    const [job] = await this.claimJobs<P>(workerTypes, 1, options);
    return job ?? null;
  }

  /** Claims up to `limit` ready jobs in one statement, highest priority first. */
  async claimJobs<P = unknown>(workerTypes: string[], limit: number, options: ClaimOptions = {}): Promise<Job<P>[]> {
    const types = parseJobTypes(workerTypes);
    const count = parseClaimLimit(limit);
    await this.rescueIfDue();
    const params = {
      types,
      limit: count,
      leaseMs: options.leaseMs ?? this.options.leaseMs,
      workerId: this.workerId,
      now: nowParam(this.clock),
    };
    const limited = await this.limitedTypes();
    const free = types.filter((type) => !limited.has(type));
    const rows = free.length > 0 ? await retryOnRunningKeyConflict(() => jobClaimAvailable(this.db, { ...params, types: free })) : [];
    for (const type of types.filter((t) => limited.has(t))) {
      if (rows.length >= count) break;
      const wanted = count - rows.length;
      rows.push(...(await retryOnRunningKeyConflict(() => this.claimLimited({ ...params, types: [type], limit: wanted }))));
    }
    const jobs = rows.map((row) => rowToJob<P>(row)).sort(claimOrder);
    for (const job of jobs) this.trackClaim(job);
    if (jobs.length > 0) this.events.emit('job:claimed', jobs);
    return jobs;
  }

  /**
   * A claim of a type with limits, in one short transaction: lock the type's limits row (claimers
   * of the type take turns), count what is running now and the rate tokens left, claim no more
   * than that, take the tokens. Unlimited types never come here.
   */
  private async claimLimited(params: Parameters<typeof jobClaimAvailable>[1]): Promise<JobRow[]> {
    const client = await this.pool.connect();
    const db = toExecutor(client, { prepare: this.prepare });
    const jobType = params.types[0]!;
    try {
      await client.query('BEGIN');
      const [limits] = await typeLimitLockAndRefill(db, { jobType });
      const allowed = limits ? await typeLimitAllowance(db, { jobType, wanted: params.limit }) : params.limit;
      const rows = allowed > 0 ? await jobClaimAvailable(db, { ...params, limit: allowed }) : [];
      if (limits?.rate_limit && rows.length > 0) await typeLimitConsumeTokens(db, { jobType, taken: rows.length });
      await client.query('COMMIT');
      return rows;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  private limitsCache: { loadedAt: number; types: Set<string> } | null = null;

  /** Types with limits, re-read at most every 5 s: a limit set elsewhere applies within 5 s. */
  private async limitedTypes(): Promise<Set<string>> {
    if (!this.limitsCache || Date.now() - this.limitsCache.loadedAt > 5_000) {
      const rows = await typeLimitList(this.db);
      this.limitsCache = { loadedAt: Date.now(), types: new Set(rows.map((r) => r.job_type)) };
    }
    return this.limitsCache.types;
  }

  /**
   * Limits for a job type, across every worker, process and cron invocation:
   * `concurrency` jobs PROCESSING at once at most; `rate` claims per period at most
   * (e.g. `{ limit: 10, periodMs: 60_000 }`: 10 a minute). `null` removes a limit.
   */
  async setTypeLimits(jobType: string, limits: { concurrency?: number | null; rate?: { limit: number; periodMs: number } | null }): Promise<void> {
    const [type] = parseJobTypes([jobType]);
    const parsed = typeLimitsSchema.safeParse(limits);
    if (!parsed.success) throw ValidationError.fromZod('type limits', parsed.error);
    const { concurrency, rate } = parsed.data;
    if (!concurrency && !rate) await typeLimitDelete(this.db, { jobType: type! });
    else await typeLimitUpsert(this.db, { jobType: type!, maxRunning: concurrency ?? null, rateLimit: rate?.limit ?? null, ratePeriodMs: rate?.periodMs ?? null });
    this.limitsCache = null;
  }

  // ---------------------------------------------------------------- recurring jobs

  /** Registers (or updates) a recurring job; registering the same definition again is a no-op. */
  async schedule(name: string, input: ScheduleInput): Promise<void> {
    const s = parseSchedule(name, input);
    const payload = toStoredJson(s.payload, 'payload', this.options.maxPayloadBytes);
    await scheduleUpsert(this.db, { name: s.name, cron: s.cron, timezone: s.timezone, jobType: s.jobType, payload, priority: s.priority, maxAttempts: s.maxAttempts });
  }

  async unschedule(name: string): Promise<boolean> {
    return (await scheduleDelete(this.db, { name })) > 0;
  }

  /**
   * Enqueues the latest due slot of every schedule, exactly once per slot across all callers
   * (unique key per slot). Workers call it on each poll; cron routes on each invocation.
   */
  async fireDueSchedules(): Promise<Job[]> {
    const schedules = await scheduleListEnabled(this.db, { now: nowParam(this.clock) });
    const due = schedules
      .map((s) => ({ s, slot: latestDueSlot(s.cron, s.timezone, new Date(s.last_slot ?? s.created_at), new Date(s.db_now)) }))
      .filter((d): d is { s: (typeof schedules)[number]; slot: Date } => d.slot !== null);
    if (due.length === 0) return [];
    const jobs = await this.enqueueMany(
      due.map(({ s, slot }) => ({
        jobType: s.job_type,
        payload: s.payload ?? undefined,
        priority: s.priority,
        maxAttempts: s.max_attempts,
        uniqueKey: slotKey(s.name, slot),
      })),
    );
    for (const { s, slot } of due) await scheduleAdvance(this.db, { name: s.name, slot });
    return jobs;
  }

  // ---------------------------------------------------------------- finish a claimed job

  /**
   * PROCESSING -> COMPLETED, storing `result` and clearing the payload. `enqueue` adds follow-up
   * jobs in the same statement: they exist if and only if this completion happened.
   */
  async completeJob(jobRef: JobRef, result?: unknown, options: { enqueue?: EnqueueInput[] } = {}): Promise<Job> {
    const { id, attempt } = this.resolveRef(jobRef);
    const stored = toStoredJson(result, 'result', this.options.maxPayloadBytes);
    const followUps = (options.enqueue ?? []).map((job, index) => this.toNewRow(job, index));
    const now = nowParam(this.clock);
    if (followUps.length === 0 && isClaimedJob(jobRef) && attempt !== null) {
      const changed = await this.completions.call({ id, attempt, result: stored });
      return this.completedOrThrow(jobRef, stored, changed);
    }
    const rows =
      followUps.length === 0
        ? await jobCompleteIfRunning(this.db, { id, attempt, result: stored, now })
        : await jobCompleteIfRunningWithFollowUps(this.db, { id, attempt, result: stored, followUps, now });
    const completed = rows.find((row) => !('kind' in row) || row.kind === 'completed');
    if (!completed) throw await this.explainMiss(id, attempt, 'complete');
    this.claims.delete(id);
    const job = rowToJob(completed);
    this.events.emit('job:completed', job);
    const chained = rows.filter((row) => 'kind' in row && row.kind === 'follow_up').map((row) => rowToJob(row));
    if (chained.length > 0) this.events.emit('job:enqueued', chained);
    return job;
  }

  /** One statement for a batch of completions; answers each request with its changes, or undefined if it missed. */
  private async completeMany(requests: CompletionRequest[]): Promise<(CompletionChanges | undefined)[]> {
    const first = firstPerJob(requests);
    const rows = await jobCompleteManyIfRunning(this.db, {
      ids: first.map((r) => r.id),
      attempts: first.map((r) => r.attempt),
      results: first.map((r) => r.result),
      now: nowParam(this.clock),
    });
    return answerInOrder(requests, first, rows);
  }

  /**
   * Records a failed attempt: back to PENDING after the backoff delay, or FAILED when attempts are
   * spent or `error` is a NonRetryableError. Only the error's message is stored (capped at 1,000
   * characters), never the payload.
   */
  async failJob(jobRef: JobRef, error: unknown): Promise<Job> {
    const request = this.failureRequest(jobRef, error);
    return this.failedOrThrow(request, await this.failures.call(request));
  }

  /**
   * Completes claimed jobs in one statement of their own, now (a batch handler's jobs), each
   * fenced by its attempt. Answers each job in order: the completed Job, or the error completeJob
   * would have thrown for it (LeaseLostError when it was taken away meanwhile).
   */
  async completeJobs(jobs: Job[], results: unknown[]): Promise<(Job | QueueError)[]> {
    const stored = jobs.map((_, i) => toStoredJson(results[i], 'result', this.options.maxPayloadBytes));
    const refs = jobs.map((job) => this.resolveRef(job));
    const changes = await this.completeMany(refs.map((ref, i) => ({ id: ref.id, attempt: ref.attempt!, result: stored[i]! })));
    return Promise.all(jobs.map((job, i) => this.completedOrThrow(job, stored[i]!, changes[i]).catch(asQueueError)));
  }

  /** Fails claimed jobs in one statement of their own, now; answers as completeJobs does. */
  async failJobs(jobs: Job[], errors: unknown[]): Promise<(Job | QueueError)[]> {
    const requests = jobs.map((job, i) => this.failureRequest(job, errors[i]));
    const rows = await this.failMany(requests);
    return Promise.all(requests.map((request, i) => this.failedOrThrow(request, rows[i]).catch(asQueueError)));
  }

  /** A claimed job's completion as its caller sees it, from what the statement changed. */
  private async completedOrThrow(claimed: Job, stored: string | null, changed: CompletionChanges | undefined): Promise<Job> {
    if (!changed) throw await this.explainMiss(claimed.id, claimed.attempts, 'complete');
    this.claims.delete(claimed.id);
    const job: Job = {
      ...claimed,
      status: 'COMPLETED',
      payload: null,
      result: stored === null ? null : JSON.parse(stored),
      lockedUntil: null,
      lockedBy: null,
      progress: (changed.progress ?? null) as Job['progress'],
      updatedAt: new Date(changed.updated_at),
      completedAt: new Date(changed.completed_at),
    };
    this.events.emit('job:completed', job);
    return job;
  }

  private failureRequest(jobRef: JobRef, error: unknown): FailureRequest {
    const { id, attempt } = this.resolveRef(jobRef);
    const nonRetryable = error instanceof NonRetryableError;
    return { id, attempt, message: errorText(error), kind: nonRetryable ? 'non_retryable' : 'error', final: nonRetryable };
  }

  private async failedOrThrow(request: FailureRequest, row: JobRow | undefined): Promise<Job> {
    if (!row) throw await this.explainMiss(request.id, request.attempt, 'fail');
    this.claims.delete(request.id);
    const job = rowToJob(row);
    this.events.emit('job:failed', job, { willRetry: job.status === 'PENDING', error: request.message });
    return job;
  }

  /** One statement for a batch of failures (a batch handler's, or slots failing together). */
  private async failMany(requests: FailureRequest[]): Promise<(JobRow | undefined)[]> {
    const first = firstPerJob(requests);
    const rows = await jobFailManyIfRunning(this.db, {
      ids: first.map((r) => r.id),
      attempts: first.map((r) => r.attempt),
      messages: first.map((r) => r.message),
      kinds: first.map((r) => r.kind),
      finals: first.map((r) => r.final),
      spreads: first.map(() => jitterFactor(this.backoff, this.options.random)),
      delaysMs: retryDelayTable({ ...this.backoff, jitter: 0 }),
      now: nowParam(this.clock),
    });
    return answerInOrder(requests, first, rows);
  }

  /** Hands an unstarted claim back: PENDING again at once, its attempt not counted. */
  async releaseJob(job: Pick<Job, 'id' | 'attempts'>): Promise<Job> {
    const id = parseJobId(job.id);
    const [row] = await jobReleaseIfRunning(this.db, { id, attempt: job.attempts });
    if (!row) throw await this.explainMiss(id, job.attempts, 'release');
    this.claims.delete(id);
    const released = rowToJob(row);
    this.events.emit('job:released', released);
    return released;
  }

  /** Extends the lease of jobs this caller still holds; returns the ids it still holds. */
  async extendLeases(jobs: Pick<Job, 'id' | 'attempts'>[], leaseMs: number = this.options.leaseMs): Promise<Set<string>> {
    if (jobs.length === 0) return new Set();
    const refs = jobs.map((job) => this.resolveRef(job));
    const rows = await jobExtendLeaseIfRunning(this.db, { ids: refs.map((r) => r.id), attempts: refs.map((r) => r.attempt!), leaseMs });
    return new Set(rows.map((r) => r.id));
  }

  /** The lease claims get when no other is given. */
  get leaseMs(): number {
    return this.options.leaseMs;
  }

  async updateProgress(jobRef: JobRef, current: number, total: number, message?: string): Promise<void> {
    const { id, attempt } = this.resolveRef(jobRef);
    const progress = parseProgress(current, total, message);
    const rows = await jobSetProgressIfRunning(this.db, { id, attempt, ...progress });
    if (rows.length === 0) throw await this.explainMiss(id, attempt, 'update progress of');
    this.events.emit('job:progress', { jobId: id, ...progress });
  }

  // ---------------------------------------------------------------- admin actions

  /** FAILED or CANCELLED -> PENDING, runnable at once (with one more attempt if all were spent). */
  async retryJob(jobId: string): Promise<Job> {
    const id = parseJobId(jobId);
    let row: JobRow | undefined;
    try {
      [row] = await jobRetryIfFinishedUnsuccessfully(this.db, { id, now: nowParam(this.clock) });
    } catch (error) {
      if ((error as { constraint?: string }).constraint !== 'job_queue_dedupe_active_idx') throw error;
      const current = await this.getJob(id);
      throw new InvalidJobStateError(id, current?.status ?? 'FAILED', 'retry (another job with its dedupe key is active)');
    }
    if (!row) throw await this.explainMiss(id, null, 'retry');
    const job = rowToJob(row);
    this.events.emit('job:retried', job);
    return job;
  }

  /** PENDING or PROCESSING -> CANCELLED. Finished jobs refuse with InvalidJobStateError. */
  async cancelJob(jobId: string): Promise<Job> {
    const id = parseJobId(jobId);
    const [row] = await jobCancelIfUnfinished(this.db, { id, now: nowParam(this.clock) });
    if (!row) throw await this.explainMiss(id, null, 'cancel');
    const job = rowToJob(row);
    this.events.emit('job:cancelled', job);
    return job;
  }

  // ---------------------------------------------------------------- reads

  async getJob<P = unknown>(jobId: string): Promise<Job<P> | null> {
    const row = await jobGetById(this.db, { id: parseJobId(jobId) });
    return row ? rowToJob<P>(row) : null;
  }

  async listJobs(filter: ListJobsFilter = {}): Promise<Job[]> {
    const { status, jobType, limit } = parseListFilter(filter);
    const rows = await jobListRecent(this.db, { status: status ?? null, jobType: jobType ?? null, limit });
    return rows.map((row) => rowToJob(row));
  }

  /**
   * Counts by status. Exact while the table is small (or with `{ exact: true }`); on a large table,
   * PENDING and PROCESSING stay exact up to statsExactLimit (read off their partial indexes) and
   * the finished states are estimated from the planner's statistics, so the call stays in
   * milliseconds at millions of rows.
   */
  async getQueueStats(options: { exact?: boolean } = {}): Promise<QueueStats> {
    const limit = DEFAULTS.statsExactLimit;
    const estimates = options.exact ? null : await jobStatusEstimates(this.db);
    if (!estimates || estimates.total < limit) {
      const stats: QueueStats = { pending: 0, processing: 0, completed: 0, failed: 0, cancelled: 0, estimated: false };
      for (const { status, count } of await jobCountByStatus(this.db)) stats[statusKey(status)] = Number(count);
      return stats;
    }
    const active = await jobCountActiveCapped(this.db, { cap: limit });
    const estimate = (status: string) => Math.round(estimates.total * (estimates.shares[status] ?? 0));
    return {
      pending: active.pending < limit ? active.pending : estimate('PENDING'),
      processing: active.processing < limit ? active.processing : estimate('PROCESSING'),
      completed: estimate('COMPLETED'),
      failed: estimate('FAILED'),
      cancelled: estimate('CANCELLED'),
      estimated: true,
    };
  }

  /** PENDING and PROCESSING counts per job type (exact; both sets are small in a healthy queue). */
  async countActiveByType(): Promise<{ jobType: string; status: JobStatus; count: number }[]> {
    return (await jobCountActiveByType(this.db)).map((r) => ({ jobType: r.job_type, status: r.status, count: r.count }));
  }

  /** Completed and failed jobs per minute over the last `minutes` (default 60). */
  async getThroughput(minutes = 60): Promise<ThroughputPoint[]> {
    const rows = await jobCountFinishedPerMinute(this.db, { minutes: parseMinutes(minutes), now: nowParam(this.clock) });
    return rows.map((r) => ({ minute: new Date(r.minute), completed: r.completed, failed: r.failed }));
  }

  /** FAILED jobs, most recently failed first; pass `nextCursor` back for the next page. */
  async listFailedJobs(filter: { jobType?: string; limit?: number; cursor?: string } = {}): Promise<{ jobs: Job[]; nextCursor: string | null }> {
    const { jobType, limit } = parseListFilter({ jobType: filter.jobType, limit: filter.limit });
    const before = filter.cursor ? parseCursor(filter.cursor) : null;
    const rows = await jobListFailed(this.db, { jobType: jobType ?? null, limit, before });
    const jobs = rows.map((row) => rowToJob(row));
    const last = jobs.at(-1);
    return { jobs, nextCursor: jobs.length === limit && last?.completedAt ? `${last.completedAt.toISOString()}_${last.id}` : null };
  }

  /**
   * The due job that has waited longest for a worker, and for how long (from its run_at: a job
   * delayed an hour is not late while its hour runs). Null when no job is due.
   */
  async oldestPendingJob(): Promise<OldestPendingJob | null> {
    const row = await jobGetOldestPending(this.db, { now: nowParam(this.clock) });
    if (!row) return null;
    return {
      id: row.id,
      createdAt: new Date(row.created_at),
      waitingSince: new Date(row.run_at),
      ageSeconds: row.age_seconds,
      ageMinutes: Math.floor(row.age_seconds / 60),
    };
  }

  // ---------------------------------------------------------------- maintenance

  /** Deletes COMPLETED, FAILED and CANCELLED jobs that finished more than `olderThanDays` ago. */
  async cleanup(olderThanDays: number = DEFAULTS.cleanupOlderThanDays): Promise<number> {
    const days = parseOlderThanDays(olderThanDays);
    const olderThanMs = Math.round(days * 86_400_000);
    let total = 0;
    for (;;) {
      const deleted = await jobDeleteFinishedBefore(this.db, {
        olderThanMs,
        now: nowParam(this.clock),
      });
      total += deleted;
      if (deleted < MAINTENANCE_BATCH) break;
    }
    this.events.emit('maintenance:cleanup', { deleted: total, olderThanDays: days });
    return total;
  }

  /** Deletes every job of `jobType` that is not PROCESSING. Returns how many. */
  async flushType(jobType: string): Promise<number> {
    const [type] = parseJobTypes([jobType]);
    return jobDeleteNotRunningOfType(this.db, { jobType: type! });
  }

  /** Returns expired-lease jobs to PENDING (or FAILED when spent). Returns how many it rescued. */
  async rescueExpired(): Promise<number> {
    this.lastRescueAt = Date.now();
    let total = 0;
    for (;;) {
      const rows = await jobRescueExpired(this.db, {
        delaysMs: retryDelayTable(this.backoff, this.options.random),
        now: nowParam(this.clock),
      });
      total += rows.length;
      if (rows.length > 0) this.events.emit('job:rescued', rows.map((row) => rowToJob(row)));
      if (rows.length < MAINTENANCE_BATCH) return total;
    }
  }

  /** The claim path rescues at most once per rescueIntervalMs per instance (0 = every claim). */
  private async rescueIfDue(): Promise<void> {
    // Wall-clock pacing only decides how often to look; which leases expired is the database's call.
    if (Date.now() - this.lastRescueAt >= this.options.rescueIntervalMs) await this.rescueExpired();
  }

  async close(): Promise<void> {
    await this.wakeups.settled();
    if (this.ownsPool) await this.pool.end();
  }

  // ---------------------------------------------------------------- helpers

  private trackClaim(job: Job): void {
    if (this.claims.size >= MAX_TRACKED_CLAIMS) {
      const oldest = this.claims.keys().next().value;
      if (oldest !== undefined) this.claims.delete(oldest);
    }
    this.claims.set(job.id, job.attempts);
  }

  private resolveRef(jobRef: JobRef): { id: string; attempt: number | null } {
    if (typeof jobRef === 'string') {
      const id = parseJobId(jobRef);
      return { id, attempt: this.claims.get(id) ?? null };
    }
    return { id: parseJobId(jobRef?.id), attempt: parseAttempt(jobRef.attempts) };
  }

  /** After a guarded statement changed nothing: say why, from the job as it is now. */
  private async explainMiss(id: string, attempt: number | null, action: string): Promise<Error> {
    const row: JobRow | undefined = await jobGetById(this.db, { id });
    if (!row) return new JobNotFoundError(id);
    const job = rowToJob(row);
    // The claim record stays: attempt numbers only grow, so it keeps fencing later calls too.
    if (attempt !== null && !(job.status === 'PROCESSING' && job.attempts === attempt)) {
      return new LeaseLostError(id, job.status, action, attempt);
    }
    return new InvalidJobStateError(id, job.status, action);
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

const typeLimitsSchema = z
  .object({
    concurrency: z.number().int().min(1).max(10_000).nullable().optional(),
    rate: z.object({ limit: z.number().int().min(1).max(1_000_000), periodMs: z.number().int().min(1).max(86_400_000) }).strict().nullable().optional(),
  })
  .strict();

const statusKey = (status: JobStatus) => status.toLowerCase() as Exclude<keyof QueueStats, 'estimated'>;

/**
 * Whether a new job is claimable at once, so worth a NOTIFY. Judged on this process's clock: a
 * wrong guess near the boundary costs one spurious wake-up or leaves the job to the next poll.
 */
function isDueNow(job: NewJobRow, clockNow: Date | null): boolean {
  if (job.delay_ms) return false;
  return job.run_at === null || new Date(job.run_at).getTime() <= (clockNow ?? new Date()).getTime();
}

/** Each request's row from a many-statement's answer; undefined for one not sent or not changed. */
function answerInOrder<R extends { id: string }, Row extends { id: string }>(requests: R[], sent: R[], rows: Row[]): (Row | undefined)[] {
  const byId = new Map(rows.map((row) => [row.id, row]));
  const wasSent = new Set(sent);
  return requests.map((r) => (wasSent.has(r) ? byId.get(r.id) : undefined));
}

/** completeJobs/failJobs answer a job's own refusal in its place instead of throwing for all. */
function asQueueError(error: unknown): QueueError {
  if (error instanceof QueueError) return error;
  throw error;
}

/**
 * What a plain insert stored for a job, without reading it back: created_at is the transaction's
 * now(), and run_at is computed as the INSERT computed it (its scheduledFor, else now plus delay).
 */
function plainInsertedRow(job: NewJobRow, createdAt: Date, clockNow: Date | null): InsertedJobRow {
  const base = (clockNow ?? createdAt).getTime();
  const runAt = job.run_at !== null ? new Date(job.run_at) : new Date(base + (job.delay_ms ?? 0));
  return { id: job.id, job_type: job.job_type, run_at: runAt, created_at: createdAt, dedupe_key: null, unique_key: null };
}

/**
 * The same job twice in one batch: only the first asker's request is sent; the second misses, as
 * it would have in a statement of its own.
 */
function firstPerJob<R extends { id: string }>(requests: R[]): R[] {
  const ids = new Set<string>();
  return requests.filter((r) => !ids.has(r.id) && ids.add(r.id));
}

/** A whole Job object as a claim returned it (not just `{ id, attempts }`). */
function isClaimedJob(ref: JobRef): ref is Job {
  return typeof ref === 'object' && ref !== null && 'jobType' in ref && 'createdAt' in ref && 'status' in ref;
}

/** Cursor of the failed-jobs list: `<completedAt ISO>_<id>`. */
function parseCursor(cursor: string): { completedAt: Date; id: string } {
  const [at, id] = cursor.split('_');
  const completedAt = new Date(at ?? '');
  if (Number.isNaN(completedAt.getTime()) || !id) throw new ValidationError(`Invalid cursor: ${cursor.slice(0, 100)}`);
  return { completedAt, id: parseJobId(id) };
}

/**
 * A claim that lost a race for a concurrency key (another claimer started a job of the same key
 * between our check and our update) fails as a whole with 23505. Nothing was changed, so claim
 * again: the next statement sees the running job and skips its key.
 */
async function retryOnRunningKeyConflict<T>(claim: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await claim();
    } catch (error) {
      const pgError = error as { code?: string; constraint?: string };
      const lostKeyRace = pgError.code === '23505' && pgError.constraint === 'job_queue_one_running_per_key_idx';
      if (!lostKeyRace || attempt >= 5) throw error;
    }
  }
}

/** Priority first, then the order they became ready: the order the claim's index serves them. */
function claimOrder(a: Job, b: Job): number {
  return b.priority - a.priority || a.runAt.getTime() - b.runAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
