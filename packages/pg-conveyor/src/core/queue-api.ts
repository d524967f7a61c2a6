/**
 * The queue as its runtime sees it: what the Worker, drainQueue and the job runners call. The
 * runtime depends on this interface, not on DatabaseQueue, so it can be read (and tested) apart
 * from the facade; DatabaseQueue implements it.
 */
import type { ClaimOptions } from './claim.js';
import type { QueueError } from './errors.js';
import type { JobRef } from './queue-core.js';
import type { Logger } from '../observability/log.js';
import type { EnqueueInput, Job, PendingOutlook } from './types.js';
import type { InvocationSlots } from '../runtime/invocation-slots.js';

export interface JobQueue {
  /** Names this process in `locked_by` and in the console's list of handlers. */
  readonly workerId: string;
  /** Where the runtime's log lines go unless it is given a logger of its own. */
  readonly logger: Logger;
  /** The lease a claim gets when none is given. */
  readonly leaseMs: number;
  readonly schedules: { fireDue(): Promise<Job[]> };
  /** Slots of fanned-out cron routes (cronRoute's fanOut). */
  readonly invocations: InvocationSlots;

  claimJob<P = unknown>(workerTypes: string[], options?: ClaimOptions): Promise<Job<P> | null>;
  claimJobs<P = unknown>(workerTypes: string[], limit: number, options?: ClaimOptions): Promise<Job<P>[]>;
  completeJob(jobRef: JobRef, result?: unknown, options?: { enqueue?: EnqueueInput[] }): Promise<Job>;
  failJob(jobRef: JobRef, error: unknown): Promise<Job>;
  completeJobs(jobs: Job[], results: unknown[]): Promise<(Job | QueueError)[]>;
  failJobs(jobs: Job[], errors: unknown[]): Promise<(Job | QueueError)[]>;
  releaseJob(job: Pick<Job, 'id' | 'attempts'>): Promise<Job>;
  extendLeases(jobs: Pick<Job, 'id' | 'attempts'>[], leaseMs?: number): Promise<Set<string>>;
  updateProgress(jobRef: JobRef, current: number, total: number, message?: string): Promise<void>;
  noteHandledTypes(jobTypes: string[]): Promise<void>;
  /** Jobs of these types due now, and ms until the next comes due: what a drain waits for or fans out for. */
  pendingOutlook(jobTypes: string[]): Promise<PendingOutlook>;
  /** Rejects with a ConfigError saying what to do when the database cannot serve the queue (unreachable, not migrated). */
  checkDatabase(): Promise<void>;
}
