/**
 * pg-conveyor: a Postgres-backed job queue. The queue itself (DatabaseQueue, its errors and
 * types), serverless drains (drainQueue), the long-running Worker and the subprocess handler.
 */
export * from './db-queue.js';
export { JOB_STATUSES, FINISHED_STATUSES } from './types.js';
export type { QueueEvents } from './events.js';
export { DEFAULT_BACKOFF, retryDelayMs, type BackoffPolicy } from './backoff.js';
export { DEFAULTS, JOB_TYPE_PATTERN, jobTypeSchema, isBehindPgBouncer, withoutPgBouncerParam, type QueueOptionsInput } from './config.js';
export { parseJobId, toStoredJson } from './job-input.js';
export { inTransaction, isConnectionLoss } from './executor.js';
export { HISTORY_RANGES } from './history.js';
export { typeLimitsSchema } from './claim.js';
export { BULK_ACTIONS, FIND_WINDOW, jobFilterSchema, parseJobFilter, parsePayloadMatch, type ValidJobFilter } from './find.js';
export { migrate, migrationSql, queueMigrations, type QueueMigration, type QueueMigrateResult } from './migrate.js';
export { drainQueue, DRAIN_DEFAULTS, type DrainOptions, type DrainResult } from './drain.js';
export type { JobContext, JobHandler, JobOutcome } from './run-job.js';
export type { BatchContext, BatchHandler, BatchOutcome, BatchResults } from './run-batch.js';
export * from './worker.js';
export * from './subprocess.js';
