/**
 * Typed events the queue emits after each state change it makes. Metrics, logs and tests subscribe
 * here instead of wrapping the queue. Listeners run synchronously and must not throw.
 */
import { EventEmitter } from 'node:events';
import type { Job } from './types.js';

export interface QueueEvents {
  'job:enqueued': [jobs: Job[]];
  'job:claimed': [jobs: Job[]];
  'job:completed': [job: Job];
  /** A failed attempt; `willRetry` false means the job is now FAILED. */
  'job:failed': [job: Job, info: { willRetry: boolean; error: string }];
  /** An unstarted claim handed back (a drain ran out of time). */
  'job:released': [job: Job];
  'job:rescued': [jobs: Job[]];
  'job:retried': [job: Job];
  'job:cancelled': [job: Job];
  'job:progress': [info: { jobId: string; current: number; total: number; message: string }];
  /** An idle pooled connection failed (server restart, terminated backend); the pool replaces it. */
  'pool:error': [error: Error];
  /** `deleted` jobs, and `workflowRuns` finished runs (with their steps), finished before the cutoff. */
  'maintenance:cleanup': [info: { deleted: number; workflowRuns: number; olderThanDays: number }];
  /**
   * A look for due recurring jobs (each worker poll, each cron call): the schedules found due, and
   * the jobs this call made (a slot another caller made first is due here but not enqueued again).
   */
  'schedules:fired': [info: { due: string[]; enqueued: Job[] }];
}

export class QueueEventEmitter extends EventEmitter<QueueEvents> {}
