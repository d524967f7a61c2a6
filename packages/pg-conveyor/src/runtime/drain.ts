/**
 * One cron tick: claim -> run -> report, inside a time budget. This is what a serverless route
 * (Vercel Cron, 60 s limit) calls. It runs `concurrency` jobs (or batches) at once until the queue
 * has nothing for it within the budget, stops claiming before the deadline, aborts handlers that
 * outlive it, and never returns while holding a claim: every job it claimed is completed, failed
 * (counted as an attempt, retried later) or released (handed back untouched). With nothing to
 * claim it waits for the next job coming due inside the budget (a workflow's 5 s sleep ends in
 * the same invocation, not at the next cron tick); see drain-run.ts for how it waits.
 *
 * It takes the Worker's registry (`handlers`: functions, `{ handler, timeoutMs }`, `{ batch }`,
 * `jobHandlers(...definitions)`); a task's own `concurrency` is the Worker's, per process (a
 * bound across every drain is `setTypeLimits`).
 */
import { z } from 'zod';
import { DEFAULTS, DRAIN_DEFAULTS } from '../core/config.js';
import type { JobQueue } from '../core/queue-api.js';
import { ValidationError } from '../core/errors.js';
import { parseJobTypes } from '../core/job-input.js';
import type { PendingOutlook } from '../core/types.js';
import { DrainRun, type BacklogReport, type DrainTask } from './drain-run.js';
import type { JobHandler } from './run-job.js';
import { parseTaskDefinition } from './worker-options.js';
import type { HandlerRegistry } from './worker-types.js';

export type { JobContext, JobHandler } from './run-job.js';
export type { BacklogReport } from './drain-run.js';

export type DrainOptions<P = unknown> = DrainLimits &
  (
    | { types: string[]; handler: JobHandler<P> }
    /** The Worker's registry (a function, `{ handler, timeoutMs }`, `{ batch }` per type, or `jobHandlers(...definitions)`); drains exactly these types. */
    | { handlers: HandlerRegistry; types?: never; handler?: never }
  );

export interface DrainLimits {
  /** Jobs (or batches) running at once: I/O-bound handlers (an embedding call, an email) overlap. Default 1. */
  concurrency?: number;
  /** Jobs to claim in this invocation at most. Default: no limit but the budget. */
  maxJobs?: number;
  /** Jobs of a type to claim in this invocation at most, by type (the API contract's ingestion route: `{ INGEST_DATA: 3 }`). */
  maxJobsByType?: Record<string, number>;
  /** Total time, from the call, this drain may use. Default 50 s (Vercel's limit is 60 s). */
  budgetMs?: number;
  /** Do not claim a new job with less than this left; such time is not enough to run one. */
  minTimeToClaimMs?: number;
  /** After aborting a handler at the deadline, wait this long for it before failing the attempt. */
  graceMs?: number;
  /** Lease on claimed jobs. Default: budget + grace + 10 s, so a killed invocation's jobs come back soon. */
  leaseMs?: number;
  /** With nothing to claim, wait for the next job coming due inside the budget (a sleep, a retry's backoff, a delayed job). Default true. */
  waitForTimers?: boolean;
  /** While waiting, look for new work this often. Default 1 s. */
  idlePollMs?: number;
  /**
   * Told about once a second, while jobs are due, how many invocations the backlog needs (this
   * one included): what a cron route uses to start more of itself (cronRoute's `fanOut`). Its
   * failure is logged and changes nothing in the drain.
   */
  onBacklog?: (report: BacklogReport) => unknown;
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
  /** What it left for the next invocation: jobs due, and ms until the next comes due (null if that could not be read). */
  remaining: PendingOutlook | null;
}

const positiveMs = z
  .number()
  .int()
  .min(0)
  .max(24 * 3_600_000);
const drainOptionsSchema = z.object({
  handler: z.function().optional(),
  handlers: z.record(z.string(), z.any()).optional(),
  concurrency: z.number().int().min(1).max(100).optional(),
  types: z.unknown().optional(),
  maxJobs: z.union([z.number().int().min(1), z.literal(Number.POSITIVE_INFINITY)]).optional(),
  maxJobsByType: z.record(z.string(), z.number().int().min(0)).optional(),
  budgetMs: positiveMs.min(1).optional(),
  minTimeToClaimMs: positiveMs.optional(),
  graceMs: positiveMs.optional(),
  leaseMs: positiveMs.min(1).optional(),
  waitForTimers: z.boolean().optional(),
  idlePollMs: positiveMs.min(10).optional(),
  onBacklog: z.function().optional(),
});

export async function drainQueue<P = unknown>(queue: JobQueue, options: DrainOptions<P>): Promise<DrainResult> {
  const checked = drainOptionsSchema.safeParse(options);
  if (!checked.success) throw ValidationError.fromZod('drain options', checked.error, options);
  const tasks = drainTasks(options as DrainOptions);
  const started = Date.now();
  const budgetMs = options.budgetMs ?? DRAIN_DEFAULTS.budgetMs;
  const graceMs = options.graceMs ?? DRAIN_DEFAULTS.graceMs;
  // For the console's "unhandled types"; bookkeeping, so a failure here does not fail the drain.
  await queue.noteHandledTypes([...tasks.keys()]).catch(() => {});
  const tally = await new DrainRun(queue, {
    tasks,
    concurrency: options.concurrency ?? 1,
    maxJobs: options.maxJobs ?? Number.POSITIVE_INFINITY,
    maxJobsByType: options.maxJobsByType ?? {},
    started,
    deadline: started + budgetMs,
    graceMs,
    // A budget shorter than the default's margin would claim nothing at all: half of it then.
    minTimeToClaimMs: options.minTimeToClaimMs ?? Math.min(DRAIN_DEFAULTS.minTimeToClaimMs, Math.floor(budgetMs / 2)),
    leaseMs: options.leaseMs ?? budgetMs + graceMs + DEFAULTS.drainLeaseExtraMs,
    waitForTimers: options.waitForTimers ?? DRAIN_DEFAULTS.waitForTimers,
    idlePollMs: options.idlePollMs ?? DRAIN_DEFAULTS.idlePollMs,
    backlogCheckMs: DRAIN_DEFAULTS.backlogCheckMs,
    onBacklog: options.onBacklog,
  }).run();
  return { success: true, ...tally, duration: Date.now() - started };
}

export function drainTasks(options: DrainOptions): Map<string, DrainTask> {
  const tasks = new Map<string, DrainTask>();
  if ('handlers' in options && options.handlers) {
    for (const [type, entry] of Object.entries(options.handlers)) {
      parseJobTypes([type]);
      const { run, timeoutMs } = parseTaskDefinition(type, entry);
      tasks.set(type, { run, timeoutMs });
    }
    if (tasks.size === 0) throw new ValidationError('drainQueue needs at least one handler');
    return tasks;
  }
  if (typeof options.handler !== 'function') throw new ValidationError('drainQueue needs a handler with its types, or handlers by type');
  for (const type of parseJobTypes(options.types)) tasks.set(type, { run: { handler: options.handler as JobHandler }, timeoutMs: undefined });
  return tasks;
}
