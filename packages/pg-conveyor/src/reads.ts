/**
 * What the queue holds, read: one job, lists, counts by status (exact while small, estimated for
 * the finished states at scale), throughput, dead letters, the oldest waiting job.
 */
import { nowParam } from './clock.js';
import { DEFAULTS } from './config.js';
import { ValidationError } from './errors.js';
import { parseJobId, parseListFilter, parseMinutes } from './job-input.js';
import { rowToJob } from './job-row.js';
import {
  jobCountActiveByType, jobCountActiveCapped, jobCountByStatus, jobCountFinishedPerMinute, jobGetById, jobGetOldestPending, jobListFailed,
  jobListRecent, jobStatusEstimates,
} from './queries/jobs-read.js';
import type { QueueCore } from './queue-core.js';
import type { Job, JobStatus, ListJobsFilter, OldestPendingJob, QueueStats, ThroughputPoint } from './types.js';

export async function getJob<P = unknown>(core: QueueCore, jobId: string): Promise<Job<P> | null> {
  const row = await jobGetById(core.db, { id: parseJobId(jobId) });
  return row ? rowToJob<P>(row) : null;
}

export async function listJobs(core: QueueCore, filter: ListJobsFilter = {}): Promise<Job[]> {
  const { status, jobType, limit } = parseListFilter(filter);
  const rows = await jobListRecent(core.db, { status: status ?? null, jobType: jobType ?? null, limit });
  return rows.map((row) => rowToJob(row));
}

export async function getQueueStats(core: QueueCore, options: { exact?: boolean } = {}): Promise<QueueStats> {
  const limit = DEFAULTS.statsExactLimit;
  const estimates = options.exact ? null : await jobStatusEstimates(core.db);
  if (!estimates || estimates.total < limit) {
    const stats: QueueStats = { pending: 0, processing: 0, completed: 0, failed: 0, cancelled: 0, estimated: false };
    for (const { status, count } of await jobCountByStatus(core.db)) stats[statusKey(status)] = Number(count);
    return stats;
  }
  const active = await jobCountActiveCapped(core.db, { cap: limit });
  const estimate = (status: string) => Math.round(estimates.total * (estimates.shares[status] ?? 0));
  return {
    pending: active.pending < limit ? active.pending : estimate('PENDING'),
    processing: active.processing < limit ? active.processing : estimate('PROCESSING'),
    completed: estimate('COMPLETED'),
    failed: estimate('FAILED'),
    cancelled: estimate('CANCELLED'),
    estimated: true,
  };
}

export async function countActiveByType(core: QueueCore): Promise<{ jobType: string; status: JobStatus; count: number }[]> {
  return (await jobCountActiveByType(core.db)).map((r) => ({ jobType: r.job_type, status: r.status, count: r.count }));
}

export async function getThroughput(core: QueueCore, minutes = 60): Promise<ThroughputPoint[]> {
  const rows = await jobCountFinishedPerMinute(core.db, { minutes: parseMinutes(minutes), now: nowParam(core.clock) });
  return rows.map((r) => ({ minute: new Date(r.minute), completed: r.completed, failed: r.failed }));
}

export async function listFailedJobs(
  core: QueueCore,
  filter: { jobType?: string; limit?: number; cursor?: string } = {},
): Promise<{ jobs: Job[]; nextCursor: string | null }> {
  const { jobType, limit } = parseListFilter({ jobType: filter.jobType, limit: filter.limit });
  const before = filter.cursor ? parseCursor(filter.cursor) : null;
  const rows = await jobListFailed(core.db, { jobType: jobType ?? null, limit, before });
  const jobs = rows.map((row) => rowToJob(row));
  const last = jobs.at(-1);
  return { jobs, nextCursor: jobs.length === limit && last?.completedAt ? `${last.completedAt.toISOString()}_${last.id}` : null };
}

export async function oldestPendingJob(core: QueueCore): Promise<OldestPendingJob | null> {
  const row = await jobGetOldestPending(core.db, { now: nowParam(core.clock) });
  if (!row) return null;
  return {
    id: row.id,
    createdAt: new Date(row.created_at),
    waitingSince: new Date(row.run_at),
    ageSeconds: row.age_seconds,
    ageMinutes: Math.floor(row.age_seconds / 60),
  };
}

const statusKey = (status: JobStatus) => status.toLowerCase() as Exclude<keyof QueueStats, 'estimated'>;

/** Cursor of the failed-jobs list: `<completedAt ISO>_<id>`. */
function parseCursor(cursor: string): { completedAt: Date; id: string } {
  const [at, id] = cursor.split('_');
  const completedAt = new Date(at ?? '');
  if (Number.isNaN(completedAt.getTime()) || !id) throw new ValidationError(`Invalid cursor: ${cursor.slice(0, 100)}`);
  return { completedAt, id: parseJobId(id) };
}
