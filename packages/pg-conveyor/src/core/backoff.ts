/**
 * Retry policy: exponential backoff with jitter. Plain code; SQL only stores the resulting run time.
 *
 * With the defaults (base 10 s, factor 2, cap 1 h, jitter ±10 %), the delay after a failed attempt is:
 *
 * | failed attempt | delay before the next one |
 * |----------------|---------------------------|
 * | 1              | 10 s  (9 – 11 s)          |
 * | 2              | 20 s  (18 – 22 s)         |
 * | 3              | 40 s                      |
 * | 4              | 80 s                      |
 * | n              | min(10 s · 2^(n-1), 1 h)  |
 *
 * With the default maxAttempts of 3, attempt 3's failure is final: the job becomes FAILED.
 * Jitter spreads retries of jobs that failed together (an outage) so they do not return together.
 */
export interface BackoffPolicy {
  baseMs: number;
  factor: number;
  maxMs: number;
  /** Fraction of the delay added or removed at random, 0 for none. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 10_000, factor: 2, maxMs: 3_600_000, jitter: 0.1 };

/** Delay in ms before the attempt that follows failed attempt `attempt` (1-based). */
export function retryDelayMs(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random = Math.random): number {
  const exponent = Math.max(0, attempt - 1);
  const raw = Math.min(policy.baseMs * policy.factor ** exponent, policy.maxMs);
  const spread = raw * policy.jitter * (random() * 2 - 1);
  return Math.max(0, Math.round(raw + spread));
}

/** A job's own jitter as a factor of its delay: 1 ± jitter, uniformly. */
export function jitterFactor(policy: BackoffPolicy = DEFAULT_BACKOFF, random = Math.random): number {
  return 1 + policy.jitter * (random() * 2 - 1);
}

/** Attempts beyond this many reuse the last delay (max_attempts is capped at 1000 too). */
const MAX_TABLE_LENGTH = 1_000;

/**
 * The policy as a table, delays[i] for failed attempt i + 1, ending where the delay reaches the cap
 * (every later attempt waits the cap). SQL indexes it by the attempt number, so a failure needs no
 * read of the job first and a batch rescue applies each job's own delay.
 */
export function retryDelayTable(policy: BackoffPolicy = DEFAULT_BACKOFF, random = Math.random): number[] {
  const table: number[] = [];
  for (let attempt = 1; attempt <= MAX_TABLE_LENGTH; attempt++) {
    table.push(retryDelayMs(attempt, policy, random));
    if (policy.factor === 1 || policy.baseMs === 0 || policy.baseMs * policy.factor ** (attempt - 1) >= policy.maxMs) break;
  }
  return table;
}
