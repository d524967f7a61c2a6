/** Public types of the queue. Field names are camelCase; the table's columns are snake_case. */

export const JOB_STATUSES = ['PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'CANCELLED'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** Statuses a job never leaves on its own (retry is an explicit admin action). */
export const FINISHED_STATUSES: readonly JobStatus[] = ['COMPLETED', 'FAILED', 'CANCELLED'];

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface JobProgress {
  current: number;
  total: number;
  message: string;
}

/** One entry of a job's error history: one per failed attempt. */
export interface JobErrorEntry {
  attempt: number;
  at: string;
  message: string;
  /** 'error' for a thrown error, 'lease_expired' when a rescue took the job back. */
  kind: 'error' | 'non_retryable' | 'lease_expired';
}

export interface Job<P = unknown> {
  id: string;
  /** Same as `id`; kept because the documented seed API reads `job.job_id`. */
  job_id: string;
  jobType: string;
  status: JobStatus;
  payload: P | null;
  result: unknown;
  priority: number;
  attempts: number;
  maxAttempts: number;
  /** When the job becomes claimable (the seed API calls this `scheduledFor`). */
  runAt: Date;
  lockedUntil: Date | null;
  lockedBy: string | null;
  progress: JobProgress | null;
  errors: JobErrorEntry[];
  createdAt: Date;
  updatedAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
  /** Jobs sharing a key never run at the same time (e.g. one VECTORIZE per project). */
  concurrencyKey: string | null;
  /** Set while active-mode dedupe applies (see EnqueueInput.dedupe). */
  dedupeKey: string | null;
  /** At most one job with this key exists (windowed dedupe, recurring slots). */
  uniqueKey: string | null;
  /**
   * The trace context of the span that enqueued the job (OpenTelemetry's carrier, e.g.
   * `{ traceparent }`), which each attempt's processing span links to; null when none was recorded.
   */
  traceContext: Record<string, string> | null;
  /**
   * On what enqueue and enqueueMany return: true when no job was created because one already held
   * the dedupe or unique key (this is that job), false when this job was created. Absent elsewhere.
   */
  deduplicated?: boolean;
}

export interface EnqueueInput<P = unknown> {
  jobType: string;
  payload?: P;
  /** Higher runs first. Default 0. */
  priority?: number;
  /** Attempts before the job is FAILED. Default 3. */
  maxAttempts?: number;
  /** Do not run before this time. */
  scheduledFor?: Date | string;
  /** Do not run before now + delayMs (database clock). Mutually exclusive with scheduledFor. */
  delayMs?: number;
  /** At most one job with this key runs at a time, across all workers. */
  concurrencyKey?: string;
  /**
   * Drop this job if another with the same key is PENDING or PROCESSING (the existing job is
   * returned instead); with `windowMs`, if one was enqueued in the same fixed window of that length.
   */
  dedupe?: { key: string; windowMs?: number };
  /** At most one job with this key, ever (while its row exists): a later enqueue returns it. */
  uniqueKey?: string;
}

export interface QueueStats {
  pending: number;
  processing: number;
  completed: number;
  failed: number;
  cancelled: number;
  /**
   * True when some counts are estimates: past STATS_EXACT_LIMIT rows an exact count costs a scan
   * of the table, so finished counts (and an active count past the limit) come from the
   * planner's statistics instead.
   */
  estimated: boolean;
}

export interface ThroughputPoint {
  minute: Date;
  completed: number;
  failed: number;
}

export interface ListJobsFilter {
  status?: JobStatus;
  jobType?: string;
  /** 1..100, default 20. */
  limit?: number;
}

/** The ready job that has waited longest: due (run_at passed) and not yet claimed. */
/** What waits for a drain of some job types (DatabaseQueue.pendingOutlook). */
export interface PendingOutlook {
  /** PENDING jobs due now, of types not paused; counted up to 1,000 per type and priority. */
  due: number;
  /** Milliseconds until the next job that is not due yet comes due; null when none waits. */
  nextInMs: number | null;
}

export interface OldestPendingJob {
  id: string;
  createdAt: Date;
  /** When it became due: its run_at (a delayed or retried job waits from then, not from creation). */
  waitingSince: Date;
  /** Seconds since waitingSince, on the database's clock. */
  ageSeconds: number;
  /** Whole minutes since waitingSince. */
  ageMinutes: number;
}
