/**
 * One cron tick: claim -> run -> report, inside a time budget. This is what a serverless route
 * (Vercel Cron, 60 s limit) calls. It stops claiming before the deadline, aborts handlers that
 * outlive it, and never returns while holding a claim: every job it claimed is completed, failed
 * (counted as an attempt, retried later) or released (handed back untouched).
 *
 * It takes the Worker's registry (`handlers`: functions, `{ handler, timeoutMs }`, `{ batch }`,
 * `jobHandlers(...definitions)`) and runs `concurrency` jobs (or batches) at once; a task's own
 * `concurrency` is the Worker's, per process (a bound across every drain is `setTypeLimits`).
 */
import { z } from 'zod';
import { DEFAULTS, DRAIN_DEFAULTS } from '../core/config.js';
import type { JobQueue } from '../core/queue-api.js';
import { ValidationError } from '../core/errors.js';
import { parseJobTypes } from '../core/job-input.js';
import type { Job } from '../core/types.js';
import { runBatch } from './run-batch.js';
import { runJob, type JobHandler, type JobOutcome } from './run-job.js';
import { parseTaskDefinition, type TaskRun } from './worker-options.js';
import type { HandlerRegistry } from './worker-types.js';

export type { JobContext, JobHandler } from './run-job.js';

export type DrainOptions<P = unknown> = DrainLimits &
  (
    | { types: string[]; handler: JobHandler<P> }
    /** The Worker's registry (a function, `{ handler, timeoutMs }`, `{ batch }` per type, or `jobHandlers(...definitions)`); drains exactly these types. */
    | { handlers: HandlerRegistry; types?: never; handler?: never }
  );

export interface DrainLimits {
  /** Jobs (or batches) running at once: I/O-bound handlers overlap. Default 1. */
  concurrency?: number;
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
  concurrency: z.number().int().min(1).max(100).optional(),
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
  const tasks = drainTasks(options as DrainOptions);
  const types = [...tasks.keys()];
  const maxJobs = options.maxJobs ?? Number.POSITIVE_INFINITY;
  const started = Date.now();
  const budgetMs = options.budgetMs ?? DRAIN_DEFAULTS.budgetMs;
  const graceMs = options.graceMs ?? DRAIN_DEFAULTS.graceMs;
  const minTimeToClaimMs = options.minTimeToClaimMs ?? DRAIN_DEFAULTS.minTimeToClaimMs;
  const deadline = started + budgetMs;
  const leaseMs = options.leaseMs ?? budgetMs + graceMs + DEFAULTS.drainLeaseExtraMs;
  const result: DrainResult = { success: true, processed: 0, completed: 0, failed: 0, released: 0, lost: 0, duration: 0, stoppedBy: 'maxJobs' };
  const tally = (outcome: Record<JobOutcome, number>) => {
    for (const key of ['completed', 'failed', 'released', 'lost'] as const) result[key] += outcome[key];
    result.processed += outcome.completed + outcome.failed;
  };
  // For the console's "unhandled types"; bookkeeping, so a failure here does not fail the drain.
  await queue.noteHandledTypes(types).catch(() => {});

  // The first slot to meet a limit stops them all from claiming; each finishes what it holds.
  let claimed = 0;
  let stoppedBy: DrainResult['stoppedBy'] | null = null;
  const stop = (reason: DrainResult['stoppedBy']) => void (stoppedBy ??= reason);
  const slot = async () => {
    while (stoppedBy === null) {
      if (claimed >= maxJobs) return stop('maxJobs');
      if (deadline - Date.now() < minTimeToClaimMs) return stop('budget');
      claimed++;
      const job = await queue.claimJob(types, { leaseMs });
      if (!job) {
        claimed--;
        return stop('empty');
      }
      const task = tasks.get(job.jobType)!;
      const runOptions = { deadline, graceMs, timeoutMs: task.timeoutMs };
      if ('batchHandler' in task.run) {
        // The rest of a batch: more of the same type, claimed in one statement.
        const more = Math.min(task.run.batchSize - 1, maxJobs - claimed);
        const rest = more > 0 ? await queue.claimJobs([job.jobType], more, { leaseMs }) : [];
        claimed += rest.length;
        tally(await runBatch(queue, [job, ...rest], task.run.batchHandler, runOptions));
      } else {
        tally(one(await runJob(queue, job as Job<P>, task.run.handler, runOptions)));
      }
      if (Date.now() >= deadline) return stop('budget');
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 1 }, slot));
  result.stoppedBy = stoppedBy ?? 'maxJobs';
  result.duration = Date.now() - started;
  return result;
}

const one = (outcome: JobOutcome): Record<JobOutcome, number> => ({ completed: 0, failed: 0, released: 0, lost: 0, [outcome]: 1 });

interface DrainTask {
  run: TaskRun;
  /** A task's own timeout (the registry's, default as the Worker's); the plain handler form has the budget only. */
  timeoutMs: number | undefined;
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
