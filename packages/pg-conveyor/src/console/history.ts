/**
 * Throughput history: finished jobs per minute and type, counted apart from the job rows
 * (queries/job-counts.ts), so retrying a failed job or deleting old ones leaves the past as it was.
 */
import { ValidationError } from '../core/errors.js';
import { parseJobTypes } from '../core/job-input.js';
import { rollUpCounts } from '../core/job-counts.js';
import { jobCountsRange } from '../sql/job-counts.js';
import type { QueueCore } from '../core/queue-core.js';

export const HISTORY_RANGES = { '1h': { minutes: 60, bucket: 1 }, '24h': { minutes: 1_440, bucket: 15 }, '7d': { minutes: 10_080, bucket: 60 } } as const;
export type HistoryRange = keyof typeof HISTORY_RANGES;

export interface HistoryPoint {
  /** Start of the bucket. */
  at: Date;
  completed: number;
  failed: number;
  cancelled: number;
}

export interface History {
  range: HistoryRange;
  bucketMinutes: number;
  since: Date;
  points: HistoryPoint[];
}

/** The history of one range; see DatabaseQueue.getHistory. */
export async function history(core: QueueCore, options: { range?: HistoryRange; jobType?: string } = {}): Promise<History> {
  const range = options.range ?? '1h';
  if (!Object.hasOwn(HISTORY_RANGES, range)) throw new ValidationError(`Invalid range: ${String(range).slice(0, 20)} (1h, 24h or 7d)`);
  const spec = HISTORY_RANGES[range];
  const jobType = options.jobType === undefined ? null : parseJobTypes([options.jobType])[0]!;
  const { through, now } = await rollUpCounts(core);
  // Whole buckets: the first one starts on a bucket boundary, the last one holds now (the database's).
  const bucketMs = spec.bucket * 60_000;
  const since = new Date(Math.floor((now - spec.minutes * 60_000) / bucketMs) * bucketMs + bucketMs);
  const until = new Date(Math.floor(now / bucketMs) * bucketMs + bucketMs);
  const rows = await jobCountsRange(core.db, { since, until, through, bucketMinutes: spec.bucket, jobType });
  return {
    range,
    bucketMinutes: spec.bucket,
    since,
    points: rows.map((r) => ({ at: new Date(r.bucket), completed: r.completed, failed: r.failed, cancelled: r.cancelled })),
  };
}

/** Per minute over the last `minutes` (getThroughput's shape). */
export async function historyOfMinutes(core: QueueCore, minutes: number): Promise<HistoryPoint[]> {
  const { through, now } = await rollUpCounts(core);
  const since = new Date(Math.floor((now - minutes * 60_000) / 60_000) * 60_000);
  const until = new Date(Math.floor(now / 60_000) * 60_000 + 60_000);
  const rows = await jobCountsRange(core.db, { since, until, through, bucketMinutes: 1, jobType: null });
  return rows.map((r) => ({ at: new Date(r.bucket), completed: r.completed, failed: r.failed, cancelled: r.cancelled }));
}
