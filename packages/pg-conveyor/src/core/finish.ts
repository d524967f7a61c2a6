/**
 * Finishing claimed jobs: complete, fail, release, extend leases, report progress. Each is one
 * statement guarded by PROCESSING and fenced by the claim's attempt; a miss is explained from the
 * job as it is now (LeaseLostError, InvalidJobStateError, JobNotFoundError). Completions and
 * failures asked for at the same time (a worker's slots) share one statement.
 */
import { jitterFactor, retryDelayTable } from './backoff.js';
import { Batcher } from './batcher.js';
import { nowParam } from './clock.js';
import { NonRetryableError, QueueError, ValidationError } from './errors.js';
import { errorText, parseJobId, parseProgress, toStoredJson } from './job-input.js';
import { rowToJob, type JobRow } from '../sql/job-row.js';
import type { NewJobRow } from '../sql/jobs-insert.js';
import {
  jobCompleteIfRunning,
  jobCompleteIfRunningWithFollowUps,
  jobCompleteManyIfRunning,
  jobExtendLeaseIfRunning,
  jobFailManyIfRunning,
  jobReleaseIfRunning,
  jobSetProgressIfRunning,
} from '../sql/jobs-write.js';
import { explainMiss, resolveRef, type JobRef, type QueueCore } from './queue-core.js';
import { activeCarrier } from '../observability/telemetry.js';
import type { EnqueueInput, Job } from './types.js';

interface CompletionRequest {
  id: string;
  attempt: number;
  result: string | null;
}
interface FailureRequest {
  id: string;
  attempt: number | null;
  message: string;
  kind: 'error' | 'non_retryable';
  final: boolean;
}
type CompletionChanges = Awaited<ReturnType<typeof jobCompleteManyIfRunning>>[number];

export class Finisher {
  /** Completions of claimed jobs made at the same time (a worker's slots) share one statement. */
  private readonly completions = new Batcher<CompletionRequest, CompletionChanges | undefined>((requests) => this.completeMany(requests));
  /** Failures made at the same time (a batch handler's jobs, several slots) share one statement too. */
  private readonly failures = new Batcher<FailureRequest, JobRow | undefined>((requests) => this.failMany(requests));

  constructor(
    private readonly core: QueueCore,
    /** Follow-up jobs are validated as enqueue validates them. */
    private readonly toNewRow: (input: unknown, index?: number) => NewJobRow,
  ) {}

  async completeJob(jobRef: JobRef, result?: unknown, options: { enqueue?: EnqueueInput[] } = {}): Promise<Job> {
    const { id, attempt } = resolveRef(this.core, jobRef);
    const stored = toStoredJson(result, 'result', this.core.options.maxPayloadBytes);
    const followUps = (options.enqueue ?? []).map((job, index) => this.toNewRow(job, index));
    const now = nowParam(this.core.clock);
    const keepPayload = this.core.options.keepPayload;
    if (followUps.length === 0 && isClaimedJob(jobRef) && attempt !== null) {
      const changed = await this.completions.call({ id, attempt, result: stored });
      return this.completedOrThrow(jobRef, stored, changed);
    }
    const rows =
      followUps.length === 0
        ? await jobCompleteIfRunning(this.core.db, { id, attempt, result: stored, now, keepPayload })
        : await jobCompleteIfRunningWithFollowUps(this.core.db, { id, attempt, result: stored, followUps, now, traceContext: activeCarrier(), keepPayload });
    const completed = rows.find((row) => !('kind' in row) || row.kind === 'completed');
    if (!completed) throw await explainMiss(this.core, id, attempt, 'complete');
    this.core.claims.finished(id);
    const job = rowToJob(completed);
    this.core.events.emit('job:completed', job);
    const chained = rows.filter((row) => 'kind' in row && row.kind === 'follow_up').map((row) => rowToJob(row));
    if (chained.length > 0) this.core.events.emit('job:enqueued', chained);
    return job;
  }

  async failJob(jobRef: JobRef, error: unknown): Promise<Job> {
    const request = this.failureRequest(jobRef, error);
    return this.failedOrThrow(request, await this.failures.call(request));
  }

  /**
   * Each job's answer in its place: the completed job, or the error for that job alone (a result
   * that cannot be stored is a ValidationError there, and that job is left as it was).
   */
  async completeJobs(jobs: Job[], results: unknown[]): Promise<(Job | QueueError)[]> {
    const refs = jobs.map((job) => resolveRef(this.core, job));
    const stored = jobs.map((_, i) => storedOrError(() => toStoredJson(results[i], 'result', this.core.options.maxPayloadBytes)));
    // Through the batcher: batches finishing together (a worker's batch slots) share one statement.
    const changes = await Promise.all(
      refs.map((ref, i) =>
        stored[i] instanceof ValidationError ? undefined : this.completions.call({ id: ref.id, attempt: ref.attempt!, result: stored[i]! }),
      ),
    );
    return Promise.all(
      jobs.map((job, i) => {
        const json = stored[i]!;
        return json instanceof ValidationError ? json : this.completedOrThrow(job, json, changes[i]).catch(asQueueError);
      }),
    );
  }

  async failJobs(jobs: Job[], errors: unknown[]): Promise<(Job | QueueError)[]> {
    const requests = jobs.map((job, i) => this.failureRequest(job, errors[i]));
    const rows = await Promise.all(requests.map((request) => this.failures.call(request)));
    return Promise.all(requests.map((request, i) => this.failedOrThrow(request, rows[i]).catch(asQueueError)));
  }

  async releaseJob(job: Pick<Job, 'id' | 'attempts'>): Promise<Job> {
    const id = parseJobId(job.id);
    const [row] = await jobReleaseIfRunning(this.core.db, { id, attempt: job.attempts });
    if (!row) throw await explainMiss(this.core, id, job.attempts, 'release');
    this.core.claims.finished(id);
    const released = rowToJob(row);
    this.core.events.emit('job:released', released);
    return released;
  }

  async extendLeases(jobs: Pick<Job, 'id' | 'attempts'>[], leaseMs: number): Promise<Set<string>> {
    if (jobs.length === 0) return new Set();
    const refs = jobs.map((job) => resolveRef(this.core, job));
    const rows = await jobExtendLeaseIfRunning(this.core.db, { ids: refs.map((r) => r.id), attempts: refs.map((r) => r.attempt!), leaseMs });
    return new Set(rows.map((r) => r.id));
  }

  async updateProgress(jobRef: JobRef, current: number, total: number, message?: string): Promise<void> {
    const { id, attempt } = resolveRef(this.core, jobRef);
    const progress = parseProgress(current, total, message);
    const rows = await jobSetProgressIfRunning(this.core.db, { id, attempt, ...progress });
    if (rows.length === 0) throw await explainMiss(this.core, id, attempt, 'update progress of');
    this.core.events.emit('job:progress', { jobId: id, ...progress });
  }

  /** One statement for a batch of completions; answers each request with its changes, or undefined if it missed. */
  private async completeMany(requests: CompletionRequest[]): Promise<(CompletionChanges | undefined)[]> {
    const first = firstPerJob(requests);
    const rows = await jobCompleteManyIfRunning(this.core.db, {
      ids: first.map((r) => r.id),
      attempts: first.map((r) => r.attempt),
      results: first.map((r) => r.result),
      now: nowParam(this.core.clock),
      keepPayload: this.core.options.keepPayload,
    });
    return answerInOrder(requests, first, rows);
  }

  /** A claimed job's completion as its caller sees it, from what the statement changed. */
  private async completedOrThrow(claimed: Job, stored: string | null, changed: CompletionChanges | undefined): Promise<Job> {
    if (!changed) throw await explainMiss(this.core, claimed.id, claimed.attempts, 'complete');
    this.core.claims.finished(claimed.id);
    const job: Job = {
      ...claimed,
      status: 'COMPLETED',
      payload: this.core.options.keepPayload ? claimed.payload : null,
      result: stored === null ? null : JSON.parse(stored),
      lockedUntil: null,
      lockedBy: null,
      progress: (changed.progress ?? null) as Job['progress'],
      updatedAt: new Date(changed.updated_at),
      completedAt: new Date(changed.completed_at),
    };
    this.core.events.emit('job:completed', job);
    return job;
  }

  private failureRequest(jobRef: JobRef, error: unknown): FailureRequest {
    const { id, attempt } = resolveRef(this.core, jobRef);
    const nonRetryable = error instanceof NonRetryableError;
    return { id, attempt, message: errorText(error), kind: nonRetryable ? 'non_retryable' : 'error', final: nonRetryable };
  }

  private async failedOrThrow(request: FailureRequest, row: JobRow | undefined): Promise<Job> {
    if (!row) throw await explainMiss(this.core, request.id, request.attempt, 'fail');
    this.core.claims.finished(request.id);
    const job = rowToJob(row);
    this.core.events.emit('job:failed', job, { willRetry: job.status === 'PENDING', error: request.message });
    return job;
  }

  /** One statement for a batch of failures (a batch handler's, or slots failing together). */
  private async failMany(requests: FailureRequest[]): Promise<(JobRow | undefined)[]> {
    const first = firstPerJob(requests);
    const { backoff, options } = this.core;
    const rows = await jobFailManyIfRunning(this.core.db, {
      ids: first.map((r) => r.id),
      attempts: first.map((r) => r.attempt),
      messages: first.map((r) => r.message),
      kinds: first.map((r) => r.kind),
      finals: first.map((r) => r.final),
      spreads: first.map(() => jitterFactor(backoff, options.random)),
      delaysMs: retryDelayTable({ ...backoff, jitter: 0 }),
      now: nowParam(this.core.clock),
    });
    return answerInOrder(requests, first, rows);
  }
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

/** A stored JSON text, or the ValidationError that says why the value cannot be stored. */
function storedOrError(store: () => string | null): string | null | ValidationError {
  try {
    return store();
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
}
