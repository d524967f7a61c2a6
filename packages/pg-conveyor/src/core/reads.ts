/**
 * What the queue holds, read: one job, lists, counts by status (exact while small, estimated for
 * the finished states at scale), the oldest waiting job, the transaction holding back vacuum.
 * The console's reads (type figures, dead letters, history) are in console/.
 */
import { nowParam } from './clock.js';
import { DEFAULTS } from './config.js';
import { parseJobId, parseJobTypes, parseListFilter } from './job-input.js';
import { rowToJob } from '../sql/job-row.js';
import {
  jobCountActiveByType,
  jobCountActiveCapped,
  jobCountByStatus,
  jobGetById,
  jobGetOldestPending,
  jobListRecent,
  jobOutlookForTypes,
  jobStatusEstimates,
} from '../sql/jobs-read.js';
import { oldestSnapshotHolder as oldestSnapshotHolderRow } from '../sql/database.js';
import type { QueueCore } from './queue-core.js';
import type { Job, JobStatus, ListJobsFilter, OldestPendingJob, PendingOutlook, QueueStats } from './types.js';

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

/** What waits for a drain of these types: the jobs due now, and how long until the next comes due. */
export async function pendingOutlook(core: QueueCore, jobTypes: string[]): Promise<PendingOutlook> {
  const row = await jobOutlookForTypes(core.db, { types: parseJobTypes(jobTypes), now: nowParam(core.clock) });
  return { due: row.due, nextInMs: row.next_in_ms === null ? null : Math.max(0, Math.ceil(row.next_in_ms)) };
}

const statusKey = (status: JobStatus) => status.toLowerCase() as Exclude<keyof QueueStats, 'estimated'>;

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
