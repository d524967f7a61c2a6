/**
 * Runs one claimed job to an outcome, for both the cron drain and the worker process: the handler
 * gets an AbortSignal that fires at the job's deadline (or when the caller stops), and is not
 * waited for past a grace period. Whatever it does afterwards is fenced out by the attempt number.
 *
 *   completed  the handler returned; its result and follow-up jobs are stored in one statement
 *   failed     it threw or outlived its deadline: the attempt counts, a retry follows the backoff
 *   released   the caller stopped it (shutdown) or it never started: handed back, attempt not counted
 *   lost       the claim was taken away meanwhile (cancelled, or its lease expired and was rescued)
 */
import { ConfigError, JobTimeoutError, LeaseLostError, OutcomeNotStoredError, ValidationError } from '../core/errors.js';
import type { JobQueue } from '../core/queue-api.js';
import { OutcomeSender } from './send-outcome.js';
import { tracedProcess, type AttemptSpan } from '../observability/telemetry.js';
import type { EnqueueInput, Job } from '../core/types.js';

export interface JobContext<P = unknown> {
  /** The job being run (also the handler's first argument). */
  job: Job<P>;
  /** Aborted at the deadline or on shutdown: stop work and throw (or return) promptly. */
  signal: AbortSignal;
  updateProgress(current: number, total: number, message?: string): Promise<void>;
  /** Epoch ms after which the runner stops waiting for this handler. */
  deadline: number;
  /** Enqueue a job when (and only if) this one completes, in the same statement as the completion. */
  enqueueOnComplete(job: EnqueueInput): void;
}

export type JobHandler<P = unknown> = (job: Job<P>, ctx: JobContext<P>) => Promise<unknown>;
export type JobOutcome = 'completed' | 'failed' | 'released' | 'lost';

export interface RunJobOptions {
  /** Epoch ms: the handler is aborted then (a drain's budget). */
  deadline?: number;
  /** The handler's own limit, counted from its start (a job type's timeout); the earlier one applies. */
  timeoutMs?: number;
  graceMs: number;
  /** Aborting it stops the handler and releases the job instead of failing it (graceful shutdown). */
  stop?: AbortSignal;
  /**
   * Aborted when the claim was taken away while the handler runs (the job was cancelled, or
   * rescued from a stalled worker): the handler's signal aborts with its reason. Whatever the
   * handler does afterwards is fenced out, and the outcome is `lost`.
   */
  lost?: AbortSignal;
  /**
   * How long to keep sending the outcome while the connection to the database is lost (see
   * send-outcome.ts); a worker gives its lease. A caller with a `deadline` (a drain) never
   * sends past its deadline plus grace.
   */
  resendForMs?: number;
}

/** Until when an outcome may be sent again: `resendForMs` from now, and a drain's deadline plus grace at the latest. */
export function resendUntil(options: Pick<RunJobOptions, 'deadline' | 'graceMs' | 'resendForMs'>): number {
  const cap = options.deadline === undefined ? Infinity : options.deadline + options.graceMs;
  return Math.min(Date.now() + (options.resendForMs ?? (options.deadline === undefined ? 0 : Infinity)), cap);
}

export type Settled = { ok: true; value: unknown } | { ok: false; error: unknown } | { stopped: true };

/**
 * Runs `work` with an AbortSignal that fires at `deadline` (or when `stop` aborts), and stops
 * waiting for it `graceMs` after that: a handler that ignores its signal cannot hold the caller.
 * `stopped` means the caller's stop came first (the work should be handed back, not failed).
 */
export async function settleWithin(
  work: (signal: AbortSignal) => Promise<unknown>,
  p: { runStart: number; deadline: number; graceMs: number; stop?: AbortSignal; lost?: AbortSignal; timeoutError: (waitedMs: number) => Error },
): Promise<Settled> {
  const { runStart, deadline, graceMs, stop, lost } = p;
  const abort = new AbortController();
  const timers: NodeJS.Timeout[] = [];
  // One timer per run: at the deadline it aborts the handler; the grace period starts from any
  // abort (deadline or stop), and when it runs out the runner stops waiting.
  const settle = new Promise<Settled>((resolve) => {
    abort.signal.addEventListener(
      'abort',
      () => {
        const stopped = stop?.aborted === true;
        const waited = deadline - runStart + graceMs;
        timers.push(setTimeout(() => resolve(stopped ? { stopped: true } : { ok: false, error: p.timeoutError(waited) }), graceMs));
      },
      { once: true },
    );
    timers.push(setTimeout(() => abort.abort(p.timeoutError(deadline - runStart)), deadline - runStart));
  });
  const onStop = () => abort.abort(stop!.reason);
  stop?.addEventListener('abort', onStop, { once: true });
  const onLost = () => abort.abort(lost!.reason);
  if (lost?.aborted) onLost();
  else lost?.addEventListener('abort', onLost, { once: true });
  const ran = Promise.resolve()
    .then(() => work(abort.signal))
    .then(
      (value): Settled => ({ ok: true, value }),
      (error: unknown): Settled => (stop?.aborted ? { stopped: true } : { ok: false, error }),
    );
  try {
    return await Promise.race([ran, settle]);
  } finally {
    timers.forEach(clearTimeout);
    stop?.removeEventListener('abort', onStop);
    lost?.removeEventListener('abort', onLost);
  }
}

/** The earlier of a caller's deadline and the handler's own timeout, counted from now. */
export function runDeadline(options: Pick<RunJobOptions, 'deadline' | 'timeoutMs'>, runStart: number): number {
  const deadline = Math.min(options.deadline ?? Infinity, runStart + (options.timeoutMs ?? Infinity));
  if (!Number.isFinite(deadline)) throw new ConfigError('a job run needs a deadline or a timeoutMs');
  return deadline;
}

/** One attempt of a job, inside its `process` span (telemetry.ts). */
export function runJob<P>(queue: JobQueue, job: Job<P>, handler: JobHandler<P>, options: RunJobOptions): Promise<JobOutcome> {
  return tracedProcess([job], (span) => runAttempt(queue, job, handler, options, span));
}

async function runAttempt<P>(queue: JobQueue, job: Job<P>, handler: JobHandler<P>, options: RunJobOptions, span: AttemptSpan): Promise<JobOutcome> {
  const { graceMs, stop, lost } = options;
  const runStart = Date.now();
  const deadline = runDeadline(options, runStart);
  let sender: OutcomeSender | undefined;
  try {
    if (Date.now() >= deadline || stop?.aborted) {
      await queue.releaseJob(job);
      return 'released';
    }
    const followUps: EnqueueInput[] = [];
    const settled = await settleWithin(
      (signal) =>
        handler(job, {
          job,
          signal,
          deadline,
          updateProgress: (current, total, message) => queue.updateProgress(job, current, total, message),
          enqueueOnComplete: (next) => void followUps.push(next),
        }),
      { runStart, deadline, graceMs, stop, lost, timeoutError: (waited) => new JobTimeoutError(job.id, waited) },
    );
    if ('stopped' in settled) {
      await queue.releaseJob(job);
      return 'released';
    }
    if (!settled.ok) span.handlerFailed(settled.error);
    sender = new OutcomeSender({ until: resendUntil(options), lost });
    let failure = settled.ok ? undefined : settled.error;
    if (settled.ok) {
      try {
        await sender.send(() => queue.completeJob(job, settled.value, { enqueue: followUps }));
        return 'completed';
      } catch (error) {
        // completeJob checks the result and follow-ups before it writes: nothing was stored.
        if (!(error instanceof ValidationError)) throw error;
        failure = new OutcomeNotStoredError(error);
        span.handlerFailed(failure);
      }
    }
    await sender.send(() => queue.failJob(job, failure));
    return 'failed';
  } catch (error) {
    // A resend that finds its own earlier send committed: that outcome stands.
    if (sender?.committedEarlier(error, job, ['COMPLETED'])) return 'completed';
    if (sender?.committedEarlier(error, job, ['PENDING', 'FAILED'])) return 'failed';
    if (error instanceof LeaseLostError || (sender?.resent && lost?.aborted)) return 'lost';
    throw error;
  }
}
