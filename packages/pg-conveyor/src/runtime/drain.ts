/**
 * One cron tick: claim -> run -> report, inside a time budget. This is what a serverless route
 * (Vercel Cron, 60 s limit) calls. It stops claiming before the deadline, aborts handlers that
 * outlive it, and never returns while holding a claim: every job it claimed is completed, failed
 * (counted as an attempt, retried later) or released (handed back untouched).
 */
import { z } from 'zod';
import { DEFAULTS, DRAIN_DEFAULTS } from '../core/config.js';
import type { JobQueue } from '../core/queue-api.js';
import { ValidationError } from '../core/errors.js';
import { parseJobTypes } from '../core/job-input.js';
import { runJob, type JobHandler } from './run-job.js';
import type { JobTaskDefinition, TaskDefinition } from './worker-types.js';

export type { JobContext, JobHandler } from './run-job.js';

export type DrainOptions<P = unknown> = DrainLimits &
  (
    | { types: string[]; handler: JobHandler<P> }
    /** A handler per type (a function, `{ handler }`, or `jobHandlers(...definitions)`); drains exactly these types. */
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each entry has its own payload type
    | { handlers: Record<string, JobHandler<any> | JobTaskDefinition<any>>; types?: never; handler?: never }
  );

interface DrainLimits {
  /** Jobs to claim in this invocation at most (the ingestion route: 3). Default: no limit but the budget. */
  maxJobs?: number;
  /** Total time, from the call, this drain may use. Default 50 s (Vercel's limit is 60 s). */
  budgetMs?: number;
  /** Do not claim a new job with less than this left; such time is not enough to run one. */
  minTimeToClaimMs?: number;
  /** After aborting a handler at the deadline, wait this long for it before failing the attempt. */
  graceMs?: number;
  /** Lease on claimed jobs. Default: budget + grace + 10 s, so a killed invocation's jobs come back soon. */
  leaseMs?: number;
}

export interface DrainResult {
  success: true;
  /** Jobs that ran to an outcome here: completed or failed. */
  processed: number;
  completed: number;
  failed: number;
  /** Claimed but not started before the deadline, handed back. */
  released: number;
  /** Jobs whose claim was taken from us (cancelled, or lease expired) while they ran. */
  lost: number;
  duration: number;
  stoppedBy: 'empty' | 'maxJobs' | 'budget';
}

const positiveMs = z
  .number()
  .int()
  .min(0)
  .max(24 * 3_600_000);
const drainOptionsSchema = z.object({
  handler: z.function().optional(),
  handlers: z.record(z.string(), z.any()).optional(),
  types: z.unknown().optional(),
  maxJobs: z.union([z.number().int().min(1), z.literal(Number.POSITIVE_INFINITY)]).optional(),
  budgetMs: positiveMs.min(1).optional(),
  minTimeToClaimMs: positiveMs.optional(),
  graceMs: positiveMs.optional(),
  leaseMs: positiveMs.min(1).optional(),
});

export async function drainQueue<P = unknown>(queue: JobQueue, options: DrainOptions<P>): Promise<DrainResult> {
  const checked = drainOptionsSchema.safeParse(options);
  if (!checked.success) throw ValidationError.fromZod('drain options', checked.error, options);
  if ('handlers' in options && options.handlers) {
    const handlers = perJobHandlers(options.handlers, 'drainQueue');
    const { handlers: _, ...rest } = options;
    return drainQueue(queue, { ...rest, types: Object.keys(handlers), handler: (job, ctx) => handlers[job.jobType]!(job, ctx) });
  }
  if (typeof options.handler !== 'function') throw new ValidationError('drainQueue needs a handler with its types, or handlers by type');
  parseJobTypes(options.types);
  const maxJobs = options.maxJobs ?? Number.POSITIVE_INFINITY;
  const started = Date.now();
  const budgetMs = options.budgetMs ?? DRAIN_DEFAULTS.budgetMs;
  const graceMs = options.graceMs ?? DRAIN_DEFAULTS.graceMs;
  const minTimeToClaimMs = options.minTimeToClaimMs ?? DRAIN_DEFAULTS.minTimeToClaimMs;
  const deadline = started + budgetMs;
  const result: DrainResult = {
    success: true,
    processed: 0,
    completed: 0,
    failed: 0,
    released: 0,
    lost: 0,
    duration: 0,
    stoppedBy: 'maxJobs',
  };
  const leaseMs = options.leaseMs ?? budgetMs + graceMs + DEFAULTS.drainLeaseExtraMs;
  // For the console's "unhandled types"; bookkeeping, so a failure here does not fail the drain.
  await queue.noteHandledTypes(options.types).catch(() => {});

  for (let claimed = 0; claimed < maxJobs; claimed++) {
    if (deadline - Date.now() < minTimeToClaimMs) {
      result.stoppedBy = 'budget';
      break;
    }
    const job = await queue.claimJob<P>(options.types, { leaseMs });
    if (!job) {
      result.stoppedBy = 'empty';
      break;
    }
    const outcome = await runJob(queue, job, options.handler, { deadline, graceMs });
    result[outcome]++;
    if (outcome === 'completed' || outcome === 'failed') result.processed++;
    if (Date.now() >= deadline) {
      result.stoppedBy = 'budget';
      break;
    }
  }
  result.duration = Date.now() - started;
  return result;
}

/**
 * A registry's per-job handlers as functions, for the runners that take one job at a time (drains,
 * the cron route). A batch handler needs a Worker: refused here, saying so.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each entry has its own payload type
export function perJobHandlers(registry: Record<string, JobHandler<any> | TaskDefinition<any>>, who: string): Record<string, JobHandler> {
  const handlers: Record<string, JobHandler> = {};
  for (const [type, entry] of Object.entries(registry)) {
    parseJobTypes([type]);
    if (typeof entry === 'function') handlers[type] = entry;
    else if (typeof (entry as JobTaskDefinition | undefined)?.handler === 'function') handlers[type] = (entry as JobTaskDefinition).handler;
    else if ((entry as { batch?: unknown } | undefined)?.batch)
      throw new ValidationError(`${who} runs jobs one at a time: the batch handler for ${type} needs a Worker`);
    else throw new ValidationError(`${who}: the handler for ${type} must be a function or { handler }`);
  }
  if (Object.keys(handlers).length === 0) throw new ValidationError(`${who} needs at least one handler`);
  return handlers;
}
