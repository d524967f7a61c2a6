/**
 * One cron tick: claim -> run -> report, inside a time budget. This is what a serverless route
 * (Vercel Cron, 60 s limit) calls. It stops claiming before the deadline, aborts handlers that
 * outlive it, and never returns while holding a claim: every job it claimed is completed, failed
 * (counted as an attempt, retried later) or released (handed back untouched).
 */
import { JobTimeoutError, LeaseLostError } from './errors';
import type { DatabaseQueue } from './db-queue';
import type { EnqueueInput, Job } from './types';

export interface JobContext {
  /** Aborted when the drain's budget runs out: stop work and throw (or return) promptly. */
  signal: AbortSignal;
  updateProgress(current: number, total: number, message?: string): Promise<void>;
  /** Epoch ms after which the drain will stop waiting for this handler. */
  deadline: number;
  /** Enqueue a job when (and only if) this one completes, in the same statement as the completion. */
  enqueueOnComplete(job: EnqueueInput): void;
}

export type JobHandler<P = unknown> = (job: Job<P>, ctx: JobContext) => Promise<unknown>;

export interface DrainOptions<P = unknown> {
  types: string[];
  handler: JobHandler<P>;
  /** Jobs to claim in this invocation at most (the ingestion route: 3). */
  maxJobs: number;
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

export const DRAIN_DEFAULTS = { budgetMs: 50_000, minTimeToClaimMs: 1_000, graceMs: 2_000 } as const;

export async function drainQueue<P = unknown>(queue: DatabaseQueue, options: DrainOptions<P>): Promise<DrainResult> {
  const started = Date.now();
  const budgetMs = options.budgetMs ?? DRAIN_DEFAULTS.budgetMs;
  const graceMs = options.graceMs ?? DRAIN_DEFAULTS.graceMs;
  const minTimeToClaimMs = options.minTimeToClaimMs ?? DRAIN_DEFAULTS.minTimeToClaimMs;
  const deadline = started + budgetMs;
  const result: DrainResult = {
    success: true, processed: 0, completed: 0, failed: 0, released: 0, lost: 0, duration: 0, stoppedBy: 'maxJobs',
  };
  const leaseMs = options.leaseMs ?? budgetMs + graceMs + 10_000;

  for (let claimed = 0; claimed < options.maxJobs; claimed++) {
    if (deadline - Date.now() < minTimeToClaimMs) {
      result.stoppedBy = 'budget';
      break;
    }
    const job = await queue.claimJob<P>(options.types, { leaseMs });
    if (!job) {
      result.stoppedBy = 'empty';
      break;
    }
    const outcome = await runOne(queue, job, options.handler, deadline, graceMs);
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

type Outcome = 'completed' | 'failed' | 'released' | 'lost';
type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };

async function runOne<P>(
  queue: DatabaseQueue,
  job: Job<P>,
  handler: JobHandler<P>,
  deadline: number,
  graceMs: number,
): Promise<Outcome> {
  if (Date.now() >= deadline) {
    await queue.releaseJob(job);
    return 'released';
  }
  const runStart = Date.now();
  const abort = new AbortController();
  const abortTimer = setTimeout(() => abort.abort(new JobTimeoutError(job.id, deadline - runStart)), deadline - Date.now());
  let giveUpTimer: NodeJS.Timeout | undefined;
  // A handler that ignores the abort is not awaited forever: after the grace period the attempt
  // fails (and is retried later); whatever it does afterwards is fenced out by the attempt number.
  const gaveUp = new Promise<Settled>((resolve) => {
    giveUpTimer = setTimeout(
      () => resolve({ ok: false, error: new JobTimeoutError(job.id, deadline - runStart + graceMs) }),
      Math.max(0, deadline - Date.now()) + graceMs,
    );
  });
  try {
    const followUps: EnqueueInput[] = [];
    const ctx: JobContext = {
      signal: abort.signal,
      deadline,
      updateProgress: (current, total, message) => queue.updateProgress(job, current, total, message),
      enqueueOnComplete: (next) => void followUps.push(next),
    };
    const ran = handler(job, ctx).then(
      (value): Settled => ({ ok: true, value }),
      (error: unknown): Settled => ({ ok: false, error }),
    );
    const settled = await Promise.race([ran, gaveUp]);
    if (settled.ok) await queue.completeJob(job, settled.value, { enqueue: followUps });
    else await queue.failJob(job, settled.error);
    return settled.ok ? 'completed' : 'failed';
  } catch (error) {
    if (error instanceof LeaseLostError) return 'lost';
    throw error;
  } finally {
    clearTimeout(abortTimer);
    clearTimeout(giveUpTimer);
  }
}
