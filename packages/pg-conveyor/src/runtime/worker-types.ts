/**
 * The worker's public shapes: task definitions, options and events (worker.ts does the work).
 */
import type { Logger } from '../observability/log.js';
import type { JobQueue } from '../core/queue-api.js';
import type { BatchHandler, BatchOutcome } from './run-batch.js';
import type { JobHandler, JobOutcome } from './run-job.js';
import type { Job } from '../core/types.js';

interface TaskCommon {
  /** Jobs (or batches) of this type running at once in this worker. Default 1. */
  concurrency?: number;
  /** An attempt (or a batch) running longer is aborted and failed. Default 5 minutes. */
  timeoutMs?: number;
}

export interface JobTaskDefinition<P = unknown> extends TaskCommon {
  handler: JobHandler<P>;
  /** Jobs claimed ahead of the slots, at most. Default 0 (a slot claims when it is free). */
  prefetch?: number;
}

export interface BatchTaskDefinition<P = unknown> extends TaskCommon {
  batch: { size: number; handler: BatchHandler<P> };
}

export type TaskDefinition<P = unknown> = JobTaskDefinition<P> | BatchTaskDefinition<P>;

/** Handlers by job type, as the Worker, drainQueue and cronRoute take them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each entry has its own payload type
export type HandlerRegistry = Record<string, TaskDefinition<any> | JobHandler<any>>;

export interface WorkerOptions {
  queue: JobQueue;
  /** For the LISTEN connection. Without it the worker polls. */
  connectionString?: string;
  /**
   * By job type. Each handler declares its own payload type (`Job<{ to: string }>`), which the
   * worker cannot check at compile time: validate payloads inside the handler (zod) where it matters.
   */
  handlers: HandlerRegistry;
  listen?: boolean;
  pollIntervalMs?: number;
  shutdownTimeoutMs?: number;
  /** After aborting a handler (timeout, shutdown), wait this long for it. */
  graceMs?: number;
  leaseMs?: number;
  /** Where the worker's log lines go (worker-log.ts); false for none. Default: the queue's logger. */
  logger?: Logger | false;
}

export interface WorkerEvents {
  'job:start': [job: Job];
  'job:end': [job: Job, outcome: JobOutcome];
  'batch:start': [jobs: Job[]];
  'batch:end': [jobs: Job[], outcome: BatchOutcome];
  /** A slot of this type found nothing to do and waits for a NOTIFY, a poll or stop(). */
  idle: [jobType: string];
  /** Leases of running and prefetched jobs extended: `kept` of the `held` asked for are still ours. */
  heartbeat: [info: { held: number; kept: number }];
  'listen:connected': [];
  'listen:error': [error: Error];
  error: [error: Error];
}
