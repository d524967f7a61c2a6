/**
 * What the queue holds, read: one job, lists, counts by status (exact while small, estimated for
 * the finished states at scale), throughput, dead letters, the oldest waiting job.
 */
import { nowParam } from './clock.js';
import { DEFAULTS } from './config.js';
import { ValidationError } from './errors.js';
import { parseJobId, parseListFilter, parseMinutes } from './job-input.js';
import { rowToJob } from '../sql/job-row.js';
import {
  jobActivePerTypeCapped,
  jobCountActiveByType,
  jobCountActiveCapped,
  jobOldestDuePerType,
  jobTypeLastHour,
  jobCountByStatus,
  jobGetById,
  jobLinks,
  jobGetOldestPending,
  jobListFailed,
  jobListRecent,
  jobStatusEstimates,
} from '../sql/jobs-read.js';
import { typeHandlersList, typeLimitList, typePausedList } from '../sql/type-limits.js';
import { historyOfMinutes } from '../console/history.js';
import { oldestSnapshotHolder as oldestSnapshotHolderRow } from '../sql/database.js';
import type { QueueCore } from './queue-core.js';
import type { Job, JobStatus, ListJobsFilter, OldestPendingJob, QueueStats, ThroughputPoint } from './types.js';

export async function getJob<P = unknown>(core: QueueCore, jobId: string): Promise<Job<P> | null> {
  const row = await jobGetById(core.db, { id: parseJobId(jobId) });
  return row ? rowToJob<P>(row) : null;
}

/** The job that chained this one (its completion enqueued it) and the jobs this one's completion enqueued (up to 50). */
export async function getJobLinks(core: QueueCore, jobId: string): Promise<{ parentId: string | null; childIds: string[] }> {
  const row = await jobLinks(core.db, { id: parseJobId(jobId) });
  return { parentId: row.parent_id, childIds: row.child_ids };
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

/** Finished jobs per minute over the last `minutes`, from the counted history (see history.ts). */
export async function getThroughput(core: QueueCore, minutes = 60): Promise<ThroughputPoint[]> {
  const span = parseMinutes(minutes);
  const history = await historyOfMinutes(core, span);
  return history.map((p) => ({ minute: p.at, completed: p.completed, failed: p.failed }));
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

export interface TypeStats {
  jobType: string;
  /** Waiting jobs, counted up to TYPE_STATS_PENDING_CAP (then `pendingAtLeast`). */
  pending: number;
  pendingAtLeast: boolean;
  processing: number;
  /** Finished in the last hour. */
  completedLastHour: number;
  failedLastHour: number;
  /** failed / (completed + failed) in the last hour; null with none finished. */
  failureRate: number | null;
  /** Run time (claim to completion) of the last hour's completed jobs, ms. */
  p50Ms: number | null;
  p95Ms: number | null;
  /** How long its longest-waiting due job has waited (from when it became due). */
  oldestWaitingSeconds: number | null;
  limits: { concurrency: number | null; rate: { limit: number; periodMs: number } | null } | null;
  paused: boolean;
  /** When a worker or drain last said it handles the type (null: never). */
  handledAt: Date | null;
  /** Jobs wait and nothing has said it handles the type within TYPE_HANDLED_WITHIN_MS. */
  unhandled: boolean;
}

/** A type whose jobs wait and that no worker or drain has claimed for in this long is shown as unhandled. */
export const TYPE_HANDLED_WITHIN_MS = 15 * 60_000;

export const TYPE_STATS_PENDING_CAP = 10_000;

/** Per job type (every type with active jobs, recent finishes, limits or a pause): what an operator reads first. */
export async function typeStats(core: QueueCore): Promise<TypeStats[]> {
  const now = nowParam(core.clock);
  const [active, hour, oldest, limits, paused, handlers] = await Promise.all([
    jobActivePerTypeCapped(core.db, { cap: TYPE_STATS_PENDING_CAP }),
    jobTypeLastHour(core.db, { now }),
    jobOldestDuePerType(core.db, { now }),
    typeLimitList(core.db),
    typePausedList(core.db),
    typeHandlersList(core.db, { withinMs: TYPE_HANDLED_WITHIN_MS, now }),
  ]);
  const handler = (jobType: string) => handlers.find((r) => r.job_type === jobType);
  const types = new Set([...active.map((r) => r.job_type), ...hour.map((r) => r.job_type), ...limits.map((r) => r.job_type), ...paused.map((r) => r.job_type)]);
  return [...types].sort().map((jobType) => {
    const a = active.find((r) => r.job_type === jobType);
    const h = hour.find((r) => r.job_type === jobType);
    const l = limits.find((r) => r.job_type === jobType);
    const done = (h?.completed ?? 0) + (h?.failed ?? 0);
    return {
      jobType,
      pending: a?.pending ?? 0,
      pendingAtLeast: (a?.pending ?? 0) >= TYPE_STATS_PENDING_CAP,
      processing: a?.processing ?? 0,
      completedLastHour: h?.completed ?? 0,
      failedLastHour: h?.failed ?? 0,
      failureRate: done > 0 ? (h?.failed ?? 0) / done : null,
      p50Ms: h?.p50_ms ?? null,
      p95Ms: h?.p95_ms ?? null,
      oldestWaitingSeconds: oldest.find((r) => r.job_type === jobType)?.age_seconds ?? null,
      limits: l ? { concurrency: l.max_running, rate: l.rate_limit && l.rate_period_ms ? { limit: l.rate_limit, periodMs: l.rate_period_ms } : null } : null,
      paused: paused.some((r) => r.job_type === jobType),
      handledAt: handler(jobType)?.seen_at ?? null,
      unhandled: (a?.pending ?? 0) > 0 && !handler(jobType)?.recent,
    };
  });
}

export interface SnapshotHolder {
  kind: 'session' | 'prepared';
  pid: number | null;
  since: Date;
  ageSeconds: number;
  state: string | null;
  applicationName: string | null;
  query: string | null;
}

/**
 * The transaction holding back vacuum longest (a session's open transaction, or a prepared one),
 * or null. A queue keeps working while one is open, but the dead rows of finished jobs cannot be
 * reclaimed until it ends: health reports it past a threshold.
 */
export async function oldestSnapshotHolder(core: QueueCore): Promise<SnapshotHolder | null> {
  const row = await oldestSnapshotHolderRow(core.db);
  if (!row) return null;
  return {
    kind: row.kind,
    pid: row.pid,
    since: new Date(row.since),
    ageSeconds: row.age_seconds,
    state: row.state,
    applicationName: row.application_name,
    query: row.query,
  };
}
