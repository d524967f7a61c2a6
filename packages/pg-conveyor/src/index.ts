/**
 * pg-conveyor: a Postgres-backed job queue. This entry holds what most users import: the queue,
 * its errors and types, serverless drains and the migrations. The rest has entries of its own:
 * `pg-conveyor/worker` (long-running workers), `pg-conveyor/next` (cron routes),
 * `pg-conveyor/workflows`, `pg-conveyor/subprocess`, `pg-conveyor/testing`, and
 * `pg-conveyor/console` (the schemas an admin API over the console validates its input with).
 *
 * @module pg-conveyor
 */

/** The queue: enqueue (in your transaction too), claim, finish, read; `queue.console` and `queue.schedules`. */
export { DatabaseQueue } from './core/database-queue.js';
/** The pool settings the queue uses, for a pool your app shares with it (Prisma's adapter-pg, pg). */
export { queuePoolConfig, type QueuePoolSettings } from './core/connection.js';
/** Typed jobs: a type, its payload schema and its handler in one definition; jobHandlers makes the registry every runner takes. */
export { defineJob, jobHandlers, type DefinedJob, type JobDefinition } from './runtime/define-job.js';
export type { JobOverrides, JobPayloads, JobSpec, JobTypes, PayloadOf, PlainJobInput } from './core/job-spec.js';
/** One cron tick's work inside a time budget: what a serverless route calls (cronRoute wraps it). */
export { drainQueue, type BacklogReport, type DrainLimits, type DrainOptions, type DrainResult } from './runtime/drain.js';
export type { HeldSlot, InvocationSlots, ReservedSlot } from './runtime/invocation-slots.js';
/** The queue's tables: apply its migrations (the CLI's `conveyor migrate`), or print them for your own tool. */
export { migrate, migrationSql, queueMigrations, type QueueMigration, type QueueMigrateResult } from './sql/migrate.js';

/** Typed errors: catch them by class (every one extends QueueError); NonRetryableError is thrown by handlers. */
export {
  ConfigError,
  InvalidJobStateError,
  JobNotFoundError,
  JobTakenAwayError,
  JobTimeoutError,
  LeaseLostError,
  NonRetryableError,
  OutcomeNotStoredError,
  QueueError,
  ValidationError,
} from './core/errors.js';

/** The documented defaults (a test pins them), and the retry policy with its delays. */
export { DEFAULTS, DRAIN_DEFAULTS, JOB_TYPE_PATTERN, SUBPROCESS_DEFAULTS, WORKER_DEFAULTS, type QueueOptionsInput } from './core/config.js';
export { DEFAULT_BACKOFF, retryDelayMs, type BackoffPolicy } from './core/backoff.js';
/** Job statuses, for filters and exhaustive switches. */
export { FINISHED_STATUSES, JOB_STATUSES } from './core/types.js';
export type {
  EnqueueInput,
  Job,
  JobErrorEntry,
  JobProgress,
  JobStatus,
  JsonValue,
  ListJobsFilter,
  OldestPendingJob,
  PendingOutlook,
  QueueStats,
  ThroughputPoint,
} from './core/types.js';
export type { EnqueueOptions } from './core/enqueue.js';
export type { ClaimOptions, PausedType, TypeLimits } from './core/claim.js';
export type { JobRef } from './core/queue-core.js';
export type { JobQueue } from './core/queue-api.js';
export type { QueueEventEmitter, QueueEvents } from './core/events.js';
export type { SnapshotHolder } from './core/reads.js';
export type { QueueConsole } from './console/queue-console.js';
export type { QueueSchedules } from './schedules/queue-schedules.js';
export type { ScheduleInfo } from './schedules/recurring.js';
export type { ScheduleInput } from './schedules/schedule-input.js';
export type { JobContext, JobHandler, JobOutcome } from './runtime/run-job.js';
export type { HandlerRegistry } from './runtime/worker-types.js';
export type { BatchContext, BatchHandler, BatchOutcome, BatchResults } from './runtime/run-batch.js';

/** A clock for tests: the queue's SQL reads its time instead of now() (`new DatabaseQueue({ clock })`). */
export { ManualClock, type Clock } from './core/clock.js';
/** The queue's structured logs (pino): a logger to pass as `logger`, and which faults are routine. */
export { createLogger, isExpectedFault, type Logger, type LoggerOptions } from './observability/log.js';
/** Your own transaction with the queue's care for a lost connection: pass its client as `{ tx }`. */
export { inTransaction, isConnectionLoss, type PrismaRawQueryable, type Queryable } from './sql/executor.js';
/** Checks a value as enqueue does (JSON that jsonb can hold, within a size) and answers its JSON text. */
export { toStoredJson } from './core/job-input.js';
