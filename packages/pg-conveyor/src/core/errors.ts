import type { z } from 'zod';
import type { JobStatus } from './types.js';

/** Base class, so callers can tell queue errors from everything else with one instanceof. */
export class QueueError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class JobNotFoundError extends QueueError {
  constructor(readonly jobId: string) {
    super(`Job ${jobId} not found`);
  }
}

/** The job exists but is not in a state that allows the requested transition. */
export class InvalidJobStateError extends QueueError {
  constructor(
    readonly jobId: string,
    readonly currentStatus: JobStatus,
    readonly action: string,
  ) {
    super(`Cannot ${action} job ${jobId}: it is ${currentStatus}`);
  }
}

/**
 * The caller's claim on the job is gone: its lease expired and the job was rescued or claimed
 * again, or an admin cancelled it. The caller's result is discarded; the job's state is unchanged.
 */
export class LeaseLostError extends InvalidJobStateError {
  constructor(
    jobId: string,
    currentStatus: JobStatus,
    action: string,
    readonly attempt: number,
    /** The job's attempt count now: equal to `attempt` when no later claim took it. */
    readonly currentAttempt?: number,
  ) {
    super(jobId, currentStatus, action);
    this.message = `Cannot ${action} job ${jobId}: attempt ${attempt} no longer holds it (it is ${currentStatus})`;
  }
}

/** The reason a running handler's signal aborts when its job was cancelled or taken over meanwhile. */
export class JobTakenAwayError extends QueueError {
  constructor(readonly jobId: string) {
    super(`Job ${jobId} was cancelled or taken over while it ran: its handler should stop`);
  }
}

/** Bad input to the library. Carries zod's issues so HTTP adapters can answer 400 with them. */
export class ValidationError extends QueueError {
  constructor(
    message: string,
    readonly issues: z.core.$ZodIssue[] = [],
  ) {
    super(message);
  }

  /**
   * Each issue as `field: message`; given the `input` that was parsed (options, not payloads,
   * whose values may be private), also the value found there: `pollIntervalMs: ... (got 5)`.
   */
  static fromZod(what: string, error: z.ZodError, input?: unknown): ValidationError {
    const detail = error.issues
      .map((issue) => {
        const field = issue.path.length ? issue.path.join('.') : '(root)';
        return `${field}: ${issue.message}${input === undefined ? '' : ` (got ${preview(valueAt(input, issue.path))})`}`;
      })
      .join('; ');
    return new ValidationError(`Invalid ${what}: ${detail}`, error.issues);
  }
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let value = input;
  for (const key of path) value = value !== null && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[key] : undefined;
  return value;
}

/** A short, readable rendering of a bad value for an error message. */
function preview(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'bigint') return `${value}n`;
  let text: string;
  try {
    // A connection string's password never reaches a message.
    text = JSON.stringify(typeof value === 'string' ? value.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@') : value) ?? String(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Throw this from a handler to fail the job at once, without the remaining retries. */
export class NonRetryableError extends QueueError {}

/**
 * What a handler returned could not be stored: a result that is not JSON (a BigInt, a circular
 * object), one over the size limit, or an invalid follow-up job. The runners (Worker, drains)
 * fail the attempt with it, so the reason is in the job's errors and the retry rules apply,
 * instead of leaving the job running until its lease ends.
 */
export class OutcomeNotStoredError extends QueueError {
  constructor(readonly reason: ValidationError) {
    super(`the handler's outcome could not be stored: ${reason.message}`, { cause: reason });
  }
}

/** Missing or invalid configuration (no database URL, bad options). */
export class ConfigError extends QueueError {}

/** A handler did not finish within its time (a drain's budget or a job type's timeout). */
export class JobTimeoutError extends QueueError {
  constructor(
    readonly jobId: string,
    readonly timeoutMs: number,
  ) {
    super(`Job ${jobId} did not finish within ${timeoutMs} ms`);
  }
}
