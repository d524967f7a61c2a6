/**
 * The console's reads of jobs: the chain a job belongs to, the dead letters page by page, and
 * finished jobs per minute from the counted history.
 */
import { ValidationError } from '../core/errors.js';
import { parseJobId, parseListFilter, parseMinutes } from '../core/job-input.js';
import type { QueueCore } from '../core/queue-core.js';
import type { Job, ThroughputPoint } from '../core/types.js';
import { rowToJob } from '../sql/job-row.js';
import { jobLinks, jobListFailed } from '../sql/jobs-read.js';
import { historyOfMinutes } from './history.js';

/** The job that chained this one (its completion enqueued it) and the jobs this one's completion enqueued (up to 50). */
export async function getJobLinks(core: QueueCore, jobId: string): Promise<{ parentId: string | null; childIds: string[] }> {
  const row = await jobLinks(core.db, { id: parseJobId(jobId) });
  return { parentId: row.parent_id, childIds: row.child_ids };
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

/** Cursor of the failed-jobs list: `<completedAt ISO>_<id>`. */
function parseCursor(cursor: string): { completedAt: Date; id: string } {
  const [at, id] = cursor.split('_');
  const completedAt = new Date(at ?? '');
  if (Number.isNaN(completedAt.getTime()) || !id) throw new ValidationError(`Invalid cursor: ${cursor.slice(0, 100)}`);
  return { completedAt, id: parseJobId(id) };
}
