/**
 * Operators' actions and housekeeping: retry and cancel a job, delete finished jobs by age, flush
 * a job type, rescue expired leases. Each is one guarded statement (or a loop of bounded ones).
 */
import { retryDelayTable } from './backoff.js';
import { nowParam } from './clock.js';
import { rollUpCounts } from './job-counts.js';
import { DEFAULTS } from './config.js';
import { InvalidJobStateError } from './errors.js';
import { parseJobId, parseJobTypes, parseOlderThanDays } from './job-input.js';
import { rowToJob, type JobRow } from '../sql/job-row.js';
import { jobGetById } from '../sql/jobs-read.js';
import {
  MAINTENANCE_BATCH,
  jobDeleteFinishedBefore,
  jobDeleteNotRunningOfType,
  jobRescueExpired,
  workflowRunDeleteFinishedBefore,
} from '../sql/jobs-maintenance.js';
import { jobCancelIfUnfinished, jobRetryIfFinishedUnsuccessfully } from '../sql/jobs-write.js';
import { explainMiss, type QueueCore } from './queue-core.js';
import type { Job } from './types.js';

export async function retryJob(core: QueueCore, jobId: string): Promise<Job> {
  const id = parseJobId(jobId);
  let row: JobRow | undefined;
  try {
    [row] = await jobRetryIfFinishedUnsuccessfully(core.db, { id, now: nowParam(core.clock) });
  } catch (error) {
    if ((error as { constraint?: string }).constraint !== 'job_queue_dedupe_active_idx') throw error;
    const current = await jobGetById(core.db, { id });
    throw new InvalidJobStateError(id, current ? rowToJob(current).status : 'FAILED', 'retry (another job with its dedupe key is active)');
  }
  if (!row) throw await explainMiss(core, id, null, 'retry');
  const job = rowToJob(row);
  core.events.emit('job:retried', job);
  return job;
}

export async function cancelJob(core: QueueCore, jobId: string): Promise<Job> {
  const id = parseJobId(jobId);
  const [row] = await jobCancelIfUnfinished(core.db, { id, now: nowParam(core.clock) });
  if (!row) throw await explainMiss(core, id, null, 'cancel');
  const job = rowToJob(row);
  core.events.emit('job:cancelled', job);
  return job;
}

export async function cleanup(core: QueueCore, olderThanDays: number = DEFAULTS.cleanupOlderThanDays): Promise<number> {
  const days = parseOlderThanDays(olderThanDays);
  const olderThanMs = Math.round(days * 86_400_000);
  // Count what finished before deleting it: only counted jobs are deleted.
  await rollUpCounts(core);
  let total = 0;
  for (;;) {
    const deleted = await jobDeleteFinishedBefore(core.db, { olderThanMs, now: nowParam(core.clock) });
    total += deleted;
    if (deleted < MAINTENANCE_BATCH) break;
  }
  let workflowRuns = 0;
  for (;;) {
    const deleted = await workflowRunDeleteFinishedBefore(core.db, { olderThanMs, now: nowParam(core.clock) });
    workflowRuns += deleted;
    if (deleted < MAINTENANCE_BATCH) break;
  }
  core.events.emit('maintenance:cleanup', { deleted: total, workflowRuns, olderThanDays: days });
  return total;
}

export async function flushType(core: QueueCore, jobType: string): Promise<number> {
  const [type] = parseJobTypes([jobType]);
  return jobDeleteNotRunningOfType(core.db, { jobType: type! });
}

export async function rescueExpired(core: QueueCore): Promise<number> {
  let total = 0;
  for (;;) {
    const rows = await jobRescueExpired(core.db, {
      delaysMs: retryDelayTable(core.backoff, core.options.random),
      now: nowParam(core.clock),
    });
    total += rows.length;
    if (rows.length > 0)
      core.events.emit(
        'job:rescued',
        rows.map((row) => rowToJob(row)),
      );
    if (rows.length < MAINTENANCE_BATCH) return total;
  }
}
