/**
 * pg-conveyor/console: the input schemas and constants of the queue's console (`queue.console`),
 * for an admin API or dashboard that takes filters, ranges and limits from HTTP requests and
 * validates them exactly as the library will.
 *
 * @module pg-conveyor/console
 */
export type { QueueConsole } from './queue-console.js';
/** Find and bulk actions: the filter's schema, its parser, the actions, how far one page reads. */
export { BULK_ACTIONS, FIND_WINDOW, jobFilterSchema, parseJobFilter, parsePayloadMatch, type ValidJobFilter } from './find.js';
export type { BulkAction, BulkActionName, FoundJobs, JobCount, JobFilter } from './find.js';
/** The history chart's ranges and their buckets. */
export { HISTORY_RANGES, type History, type HistoryPoint, type HistoryRange } from './history.js';
export { TYPE_HANDLED_WITHIN_MS, TYPE_STATS_PENDING_CAP, type TypeStats } from './type-stats.js';
/** A type's limits, a job type, a job id: as the queue validates them. */
export { typeLimitsSchema } from '../core/claim.js';
export { jobTypeSchema } from '../core/config.js';
export { jobIdSchema, parseJobId } from '../core/job-input.js';
