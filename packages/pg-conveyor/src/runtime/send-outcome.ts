/**
 * A job's outcome (its completion or failure) sent while the connection to the database is lost
 * (a server crash, a failover, a restart) may or may not have committed. The statements are
 * fenced by the attempt, so sending one again is safe, and the handler's work is not thrown away
 * for a blip: without this the job would stay PROCESSING until its lease ran out and then run
 * again. Resent with backoff until answered, until the claim is taken away, or until `until`.
 *
 * A resend that misses (LeaseLostError) may be missing its own earlier send, which committed
 * before the answer was lost: `committedEarlier` tells that apart by the job's attempt count,
 * which any later claim would have raised.
 */
import { LeaseLostError } from '../core/errors.js';
import { isConnectionLoss } from '../sql/executor.js';
import type { Job, JobStatus } from '../core/types.js';

export class OutcomeSender {
  /** True once a send failed for a lost connection and was sent again. */
  resent = false;

  constructor(private readonly p: { until: number; lost?: AbortSignal }) {}

  async send<T>(send: () => Promise<T>): Promise<T> {
    for (let delayMs = 100; ; delayMs = Math.min(delayMs * 2, 2_000)) {
      try {
        return await send();
      } catch (error) {
        if (!isConnectionLoss(error) || this.p.lost?.aborted || Date.now() + delayMs > this.p.until) throw error;
        this.resent = true;
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
  }

  /** Whether `error`, the answer to a resend, says the earlier send had committed: the job is in one of `statuses` under the same attempt. */
  committedEarlier(error: unknown, job: Pick<Job, 'attempts'>, statuses: readonly JobStatus[]): boolean {
    return this.resent && error instanceof LeaseLostError && error.currentAttempt === job.attempts && statuses.includes(error.currentStatus);
  }
}
