/**
 * What the queue's parts (enqueue, claim, finish, maintenance, reads, recurring jobs) share: one
 * connection executor, the validated options, the clock, the events, and the claims this instance
 * holds. DatabaseQueue builds it once and hands it to each part.
 */
import type pg from 'pg';
import type { BackoffPolicy } from './backoff.js';
import type { Clock } from './clock.js';
import type { parseQueueOptions } from './config.js';
import { InvalidJobStateError, JobNotFoundError, LeaseLostError } from './errors.js';
import type { QueueEventEmitter } from './events.js';
import type { SqlExecutor } from '../sql/executor.js';
import { parseAttempt, parseJobId } from './job-input.js';
import { rowToJob, type JobRow } from '../sql/job-row.js';
import { jobGetById } from '../sql/jobs-read.js';
import type { Job } from './types.js';

/** A job this caller claimed (carries the attempt that fences its updates), or a bare job id. */
export type JobRef = string | Pick<Job, 'id' | 'attempts'>;

export interface QueueCore {
  readonly db: SqlExecutor;
  readonly pool: pg.Pool;
  /** Whether the queue's statements are prepared on its connections (not behind PgBouncer). */
  readonly prepare: boolean;
  readonly options: ReturnType<typeof parseQueueOptions>;
  readonly backoff: BackoffPolicy;
  readonly clock: Clock | undefined;
  readonly events: QueueEventEmitter;
  readonly workerId: string;
  readonly claims: ClaimRegistry;
}

/** Claims this instance made and has not finished, so a bare job id is fenced by its attempt too. */
export class ClaimRegistry {
  private static readonly MAX = 100_000;
  private readonly attempts = new Map<string, number>();

  track(job: Job): void {
    if (this.attempts.size >= ClaimRegistry.MAX) {
      const oldest = this.attempts.keys().next().value;
      if (oldest !== undefined) this.attempts.delete(oldest);
    }
    this.attempts.set(job.id, job.attempts);
  }

  attemptOf(id: string): number | undefined {
    return this.attempts.get(id);
  }

  finished(id: string): void {
    this.attempts.delete(id);
  }
}

/** The job id a reference names, and the attempt that fences it (null: a bare id this instance did not claim). */
export function resolveRef(core: QueueCore, jobRef: JobRef): { id: string; attempt: number | null } {
  if (typeof jobRef === 'string') {
    const id = parseJobId(jobRef);
    return { id, attempt: core.claims.attemptOf(id) ?? null };
  }
  return { id: parseJobId(jobRef?.id), attempt: parseAttempt(jobRef.attempts) };
}

/** After a guarded statement changed nothing: say why, from the job as it is now. */
export async function explainMiss(core: QueueCore, id: string, attempt: number | null, action: string): Promise<Error> {
  const row: JobRow | undefined = await jobGetById(core.db, { id });
  if (!row) return new JobNotFoundError(id);
  const job = rowToJob(row);
  // The claim record stays: attempt numbers only grow, so it keeps fencing later calls too.
  if (attempt !== null && !(job.status === 'PROCESSING' && job.attempts === attempt)) {
    return new LeaseLostError(id, job.status, action, attempt, job.attempts);
  }
  return new InvalidJobStateError(id, job.status, action);
}
