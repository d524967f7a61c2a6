/**
 * QueueConsole: what an operator's screen reads and does beyond single jobs. Reached as
 * `queue.console`; the dashboard and the CLI are built on it.
 *
 *   const page = await queue.console.findJobs({ status: 'FAILED', jobType: 'SEND_EMAIL' });
 *   const { count } = await queue.console.countJobs({ status: 'FAILED' });
 *   const bulk = await queue.console.startBulkAction({ action: 'retry', filter: { status: 'FAILED' } });
 */
import type { QueueCore } from '../core/queue-core.js';
import type { Job } from '../core/types.js';
import type { ThroughputPoint } from '../core/types.js';
import * as find from './find.js';
import type { BulkAction, BulkActionName, FoundJobs, JobCount, JobFilter } from './find.js';
import * as history from './history.js';
import type { History, HistoryRange } from './history.js';
import * as reads from './job-reads.js';
import { typeStats, type TypeStats } from './type-stats.js';

export class QueueConsole {
  constructor(private readonly core: QueueCore) {}

  /**
   * Jobs matching `filter`, newest first, `limit` (default 50) at a time. Each call reads at most
   * FIND_WINDOW rows, so with a filter that matches rarely a page may hold fewer than `limit` jobs
   * and still have a `nextCursor`: the search goes on from there.
   */
  findJobs(filter: JobFilter, options: { limit?: number; cursor?: string | null } = {}): Promise<FoundJobs> {
    return find.findJobs(this.core, filter, options);
  }

  /** How many jobs match `filter` (a bulk action's dry run); `complete: false` when `budgetMs` ran out first. */
  countJobs(filter: JobFilter, options: { budgetMs?: number } = {}): Promise<JobCount> {
    return find.countJobs(this.core, filter, options);
  }

  /**
   * Retries (FAILED, CANCELLED), cancels (PENDING, PROCESSING) or deletes (finished) every job
   * matching `filter`, in bounded batches, recorded in an audit row. Runs for up to `budgetMs`;
   * continue with continueBulkAction(id) until `finishedAt` is set.
   */
  startBulkAction(input: { action: BulkActionName; filter: JobFilter; requestedBy?: string; matched?: number; budgetMs?: number }): Promise<BulkAction> {
    return find.startBulkAction(this.core, input);
  }

  continueBulkAction(bulkId: string, options: { budgetMs?: number } = {}): Promise<BulkAction> {
    return find.continueBulkAction(this.core, bulkId, options);
  }

  getBulkAction(bulkId: string): Promise<BulkAction | null> {
    return find.getBulkAction(this.core, bulkId);
  }

  /** The audit log of bulk actions, newest first. */
  listBulkActions(options: { limit?: number } = {}): Promise<BulkAction[]> {
    return find.listBulkActions(this.core, options);
  }

  /**
   * Completed, failed and cancelled jobs over the last hour (per minute), 24 hours (per 15
   * minutes) or 7 days (per hour), of every type or one. Counted apart from the job rows, so a
   * retry or cleanup does not change the past.
   */
  getHistory(options: { range?: HistoryRange; jobType?: string } = {}): Promise<History> {
    return history.history(this.core, options);
  }

  /** Completed and failed jobs per minute over the last `minutes` (default 60). */
  getThroughput(minutes = 60): Promise<ThroughputPoint[]> {
    return reads.getThroughput(this.core, minutes);
  }

  /**
   * Per job type: pending and running counts, the last hour's completions, failures, failure rate
   * and p50/p95 run time, the longest wait of a due job, limits and whether it is paused.
   */
  typeStats(): Promise<TypeStats[]> {
    return typeStats(this.core);
  }

  /** FAILED jobs, most recently failed first; pass `nextCursor` back for the next page. */
  listFailedJobs(filter: { jobType?: string; limit?: number; cursor?: string } = {}): Promise<{ jobs: Job[]; nextCursor: string | null }> {
    return reads.listFailedJobs(this.core, filter);
  }

  /** The job whose completion enqueued this one, and the jobs this one's completion enqueued (up to 50). */
  getJobLinks(jobId: string): Promise<{ parentId: string | null; childIds: string[] }> {
    return reads.getJobLinks(this.core, jobId);
  }
}
