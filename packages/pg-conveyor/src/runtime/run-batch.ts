/**
 * Runs a batch of claimed jobs through one handler call (graphile-worker's batch jobs, River's
 * batch insert's counterpart on the way out): for work that is cheaper in bulk, such as one API
 * call or one INSERT for fifty records.
 *
 *   handlers: { SEND_SMS: { batch: { size: 50, handler: async (jobs, { signal }) => {
 *     const sent = await provider.sendMany(jobs.map((j) => j.payload), { signal });
 *     return sent.map((r) => (r.ok ? { sid: r.sid } : new Error(r.reason)));   // one entry per job
 *   } } } }
 *
 * The handler returns nothing (every job completes, with no result) or one entry per job, in
 * order: a value completes that job with it as result, an Error fails that job alone (a
 * NonRetryableError fails it for good). Throwing, or outliving the task's timeout, fails the whole
 * batch. The batch's completions go to the database in one statement and its failures in another
 * (completeJobs, failJobs; shared with other batches finishing at the same time), each job still
 * fenced by its own attempt, so a job taken away meanwhile (cancelled, rescued) changes nothing
 * and is counted as lost.
 */
import { JobTimeoutError, LeaseLostError, OutcomeNotStoredError, QueueError, ValidationError } from '../core/errors.js';
import type { JobQueue } from '../core/queue-api.js';
import { resendUntil, runDeadline, settleWithin, type JobOutcome, type RunJobOptions } from './run-job.js';
import { OutcomeSender } from './send-outcome.js';
import { tracedProcess, type AttemptSpan } from '../observability/telemetry.js';
import type { Job } from '../core/types.js';

export interface BatchContext {
  /** Aborted at the deadline or on shutdown: stop work and throw (or return) promptly. */
  signal: AbortSignal;
  /** Epoch ms after which the runner stops waiting for this handler. */
  deadline: number;
}

/** One entry per job, in order: a result, or an Error for a job that failed. */
export type BatchResults = readonly unknown[] | void | undefined;

export type BatchHandler<P = unknown> = (jobs: Job<P>[], ctx: BatchContext) => Promise<BatchResults>;

export type BatchOutcome = Record<JobOutcome, number>;

/** One attempt of a batch, inside one `process` span linked to each job's enqueue (telemetry.ts). */
export function runBatch<P>(queue: JobQueue, jobs: Job<P>[], handler: BatchHandler<P>, options: RunJobOptions): Promise<BatchOutcome> {
  return tracedProcess(jobs, (span) => runBatchAttempt(queue, jobs, handler, options, span));
}

async function runBatchAttempt<P>(queue: JobQueue, jobs: Job<P>[], handler: BatchHandler<P>, options: RunJobOptions, span: AttemptSpan): Promise<BatchOutcome> {
  const outcome: BatchOutcome = { completed: 0, failed: 0, released: 0, lost: 0 };
  const runStart = Date.now();
  const deadline = runDeadline(options, runStart);
  if (Date.now() >= deadline || options.stop?.aborted) {
    await releaseAll(queue, jobs, outcome);
    return outcome;
  }
  const settled = await settleWithin((signal) => handler(jobs, { signal, deadline }), {
    runStart,
    deadline,
    graceMs: options.graceMs,
    stop: options.stop,
    // One error for the whole batch, stored in each job's history: name the batch, not 50 ids.
    timeoutError: (waited) => new JobTimeoutError(`batch of ${jobs.length} from ${jobs[0]!.id}`, waited),
  });
  if ('stopped' in settled) {
    await releaseAll(queue, jobs, outcome);
    return outcome;
  }
  if (!settled.ok) span.handlerFailed(settled.error);
  const results = settled.ok ? perJob(settled.value, jobs.length) : jobs.map(() => settled.error);
  const failed = jobs.map((_, i) => !settled.ok || results[i] instanceof Error);
  const split = <T>(items: T[], wantFailed: boolean) => items.filter((_, i) => failed[i] === wantFailed);
  const sender = new OutcomeSender({ until: resendUntil(options) });
  const answers = await Promise.all([
    split(jobs, false).length > 0 ? sender.send(() => queue.completeJobs(split(jobs, false), split(results, false))) : [],
    split(jobs, true).length > 0 ? sender.send(() => queue.failJobs(split(jobs, true), split(results, true))) : [],
  ]);
  // A result that could not be stored left its job untouched: that job's attempt fails, saying why.
  const completing = split(jobs, false);
  const unstored = answers[0].flatMap((answer, k) =>
    answer instanceof ValidationError ? [{ job: completing[k]!, error: new OutcomeNotStoredError(answer) }] : [],
  );
  const failedAfter =
    unstored.length > 0
      ? await sender.send(() =>
          queue.failJobs(
            unstored.map((u) => u.job),
            unstored.map((u) => u.error),
          ),
        )
      : [];
  const tally = (answered: (Job | QueueError)[], sent: Job[], kind: 'completed' | 'failed') => {
    for (const [k, answer] of answered.entries()) {
      if (answer instanceof ValidationError) continue; // counted with failedAfter
      // A resend finding its own earlier send committed counts as sent; otherwise the job was
      // taken away meanwhile (cancelled, rescued, deleted) and its new owner decides.
      const earlier = sender.committedEarlier(answer, sent[k]!, kind === 'completed' ? ['COMPLETED'] : ['PENDING', 'FAILED']);
      if (answer instanceof QueueError && !earlier) outcome.lost++;
      else outcome[kind]++;
    }
  };
  tally(answers[0], completing, 'completed');
  tally(answers[1], split(jobs, true), 'failed');
  tally(
    failedAfter,
    unstored.map((u) => u.job),
    'failed',
  );
  return outcome;
}

/** The handler's answer as one entry per job; a wrong-sized answer fails every job, saying why. */
function perJob(value: unknown, count: number): unknown[] {
  if (value === undefined || value === null) return new Array<unknown>(count).fill(undefined);
  if (Array.isArray(value) && value.length === count) return value;
  const got = Array.isArray(value) ? `${value.length} entries` : typeof value;
  const error = new ValidationError(`batch handler returned ${got}; expected nothing or one entry for each of its ${count} jobs`);
  return new Array(count).fill(error);
}

async function releaseAll(queue: JobQueue, jobs: Job[], outcome: BatchOutcome): Promise<void> {
  await Promise.all(
    jobs.map(async (job) => {
      try {
        await queue.releaseJob(job);
        outcome.released++;
      } catch (error) {
        if (!(error instanceof LeaseLostError)) throw error;
        outcome.lost++;
      }
    }),
  );
}
