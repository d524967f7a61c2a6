/**
 * pg-conveyor: a Postgres-backed job queue. The queue itself (DatabaseQueue, its errors and
 * types), serverless drains (drainQueue), the long-running Worker and the subprocess handler.
 */
export * from './core/database-queue.js';
export { JOB_STATUSES, FINISHED_STATUSES } from './core/types.js';
export type { QueueEvents } from './core/events.js';
export { DEFAULT_BACKOFF, retryDelayMs, type BackoffPolicy } from './core/backoff.js';
export { DEFAULTS, JOB_TYPE_PATTERN, jobTypeSchema, isBehindPgBouncer, withoutPgBouncerParam, type QueueOptionsInput } from './core/config.js';
export { parseJobId, toStoredJson } from './core/job-input.js';
export { inTransaction, isConnectionLoss } from './sql/executor.js';
export { HISTORY_RANGES } from './console/history.js';
export { typeLimitsSchema } from './core/claim.js';
export { BULK_ACTIONS, FIND_WINDOW, jobFilterSchema, parseJobFilter, parsePayloadMatch, type ValidJobFilter } from './console/find.js';
export { migrate, migrationSql, queueMigrations, type QueueMigration, type QueueMigrateResult } from './sql/migrate.js';
export { drainQueue, DRAIN_DEFAULTS, type DrainOptions, type DrainResult } from './runtime/drain.js';
export type { JobContext, JobHandler, JobOutcome } from './runtime/run-job.js';
export type { BatchContext, BatchHandler, BatchOutcome, BatchResults } from './runtime/run-batch.js';
export * from './runtime/worker.js';
export * from './runtime/subprocess.js';
