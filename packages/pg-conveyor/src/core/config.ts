/** Every default of the queue, in one place, and the validation of options given at construction. */
import { z } from 'zod';
import type { Logger } from '../observability/log.js';
import { DEFAULT_BACKOFF } from './backoff.js';
import { ValidationError } from './errors.js';

export const DEFAULTS = {
  /** Attempts before a job is FAILED (seed contract: 3). */
  maxAttempts: 3,
  priority: 0,
  /** How long a claim made through the queue's API (claimJob) holds a job before it may be rescued. */
  leaseMs: 5 * 60_000,
  /** The Worker's claims: shorter, because its heartbeat extends them every third of this. */
  workerLeaseMs: 60_000,
  /** A drain's claims last its budget and grace plus this, so a killed invocation's jobs come back soon. */
  drainLeaseExtraMs: 10_000,
  /** A handler (or a subprocess) running longer than this is aborted and its attempt failed. */
  jobTimeoutMs: 5 * 60_000,
  /** Claim path rescues expired leases at most this often per queue instance. */
  rescueIntervalMs: 30_000,
  /** Rows per rescue or cleanup statement, so neither holds many row locks at once. */
  maintenanceBatchSize: 1_000,
  /** Payloads and results above this size are refused (the row should stay small). */
  maxPayloadBytes: 1_048_576,
  /** Error text kept per attempt. */
  maxErrorLength: 1_000,
  /** Connections in the pool the queue opens itself. */
  poolMax: 10,
  /**
   * Bounds on every statement of the pool the queue opens itself. The queue's statements take
   * milliseconds (a cleanup or bulk batch well under a second), so these only end waits: a lock
   * held by someone's migration makes a claim fail after lockTimeoutMs (the worker tries again at
   * its next poll) instead of freezing every worker until the migration ends.
   */
  statementTimeoutMs: 60_000,
  lockTimeoutMs: 5_000,
  /** Retention for cleanup(), in days. */
  cleanupOlderThanDays: 7,
  listLimit: 20,
  listLimitMax: 100,
  claimBatchMax: 1_000,
  /** getQueueStats counts exactly up to this many rows per status, then estimates. */
  statsExactLimit: 100_000,
  backoff: DEFAULT_BACKOFF,
} as const;

/** The Worker's defaults (runtime/worker.ts); a job type's own `concurrency` and `timeoutMs` override them. */
export const WORKER_DEFAULTS = {
  /** Jobs of one type running at once in one worker. */
  concurrency: 1,
  timeoutMs: DEFAULTS.jobTimeoutMs,
  /** How often an idle worker looks for due jobs when no NOTIFY arrives (delayed jobs, retries, missed wakes). */
  pollIntervalMs: 1_000,
  /** stop() waits this long for running handlers before aborting them. */
  shutdownTimeoutMs: 30_000,
  /** After aborting a handler (timeout, shutdown), wait this long for it. */
  graceMs: 2_000,
  leaseMs: DEFAULTS.workerLeaseMs,
} as const;

/** A serverless drain's defaults (runtime/drain.ts): a cron invocation on Vercel has 60 s. */
export const DRAIN_DEFAULTS = {
  /** Total time, from the call, the drain may use. */
  budgetMs: 50_000,
  /** No new claim with less than this left: not enough time to run a job. */
  minTimeToClaimMs: 1_000,
  /** After aborting a handler at the deadline, wait this long for it. */
  graceMs: 2_000,
  /** With nothing to claim, wait within the budget for the next job coming due (a sleep, a backoff, a delay). */
  waitForTimers: true,
  /** While waiting (for a timer, or for running jobs' follow-ups), look for new work this often. */
  idlePollMs: 1_000,
  /** How often a drain that can scale out (onBacklog) weighs its backlog. */
  backlogCheckMs: 1_000,
} as const;

/** subprocessHandler's defaults (runtime/subprocess.ts). */
export const SUBPROCESS_DEFAULTS = {
  timeoutMs: DEFAULTS.jobTimeoutMs,
  /** The program's output kept (its tail) for the job's result or error. */
  maxBufferBytes: 1_048_576,
  /** After SIGTERM, the program group gets this long before SIGKILL. */
  killGraceMs: 2_000,
} as const;

export const JOB_TYPE_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
export const jobTypeSchema = z.string().regex(JOB_TYPE_PATTERN, 'must be 1-64 characters of A-Z a-z 0-9 _ . : -');

const backoffSchema = z
  .object({
    baseMs: z.number().int().min(0).max(86_400_000),
    factor: z.number().min(1).max(100),
    maxMs: z
      .number()
      .int()
      .min(0)
      .max(7 * 86_400_000),
    jitter: z.number().min(0).max(1),
  })
  .partial();

/** What pg can connect with: a postgres(ql):// URL, libpq `key=value` settings, or a socket directory. */
const CONNECTION_STRING = /^(postgres(ql)?:\/\/|\/|\s*\w+\s*=)/i;

export const queueOptionsSchema = z
  .object({
    connectionString: z
      .string()
      .min(1)
      .refine((v) => CONNECTION_STRING.test(v), { message: 'must be a postgres:// or postgresql:// URL (or libpq key=value settings)' })
      .optional(),
    pool: z.any().optional(),
    poolMax: z.number().int().min(1).max(1_000).default(DEFAULTS.poolMax),
    /** statement_timeout and lock_timeout of the pool the queue opens (0: none); see DEFAULTS. */
    statementTimeoutMs: z.number().int().min(0).max(86_400_000).default(DEFAULTS.statementTimeoutMs),
    lockTimeoutMs: z.number().int().min(0).max(86_400_000).default(DEFAULTS.lockTimeoutMs),
    leaseMs: z
      .number()
      .int()
      .min(1_000)
      .max(7 * 86_400_000)
      .default(DEFAULTS.leaseMs),
    rescueIntervalMs: z.number().int().min(0).default(DEFAULTS.rescueIntervalMs),
    maxPayloadBytes: z
      .number()
      .int()
      .min(1)
      .max(256 * 1_048_576)
      .default(DEFAULTS.maxPayloadBytes),
    defaultMaxAttempts: z.number().int().min(1).max(1_000).default(DEFAULTS.maxAttempts),
    /**
     * Keep a completed job's payload (for audit: what was it asked to do?) until cleanup deletes
     * the job. Off by default: payloads may hold data the app does not want kept, and they are
     * the bulk of a finished row.
     */
    keepPayload: z.boolean().default(false),
    backoff: backoffSchema.optional(),
    workerId: z.string().min(1).max(200).optional(),
    /**
     * Prepare the queue's statements once per connection (default). Off behind PgBouncer in
     * transaction mode, where a connection is not yours between statements; a connection string
     * with `pgbouncer=true` (Prisma's convention) turns it off by default.
     */
    preparedStatements: z.boolean().optional(),
    clock: z.custom<{ now(): Date }>((v) => typeof (v as { now?: unknown })?.now === 'function').optional(),
    random: z.custom<() => number>((v) => typeof v === 'function').optional(),
    /** Where the queue's log lines go (log.ts): a pino-style logger, or false for none. Default: JSON to stdout. */
    logger: z
      .custom<Logger | false>(
        (v) => v === false || ['debug', 'info', 'warn', 'error'].every((m) => typeof (v as Record<string, unknown>)?.[m] === 'function'),
        { message: 'expected a logger with debug, info, warn and error methods, or false' },
      )
      .optional(),
  })
  .refine((o) => !(o.pool && o.connectionString), { message: 'give either pool or connectionString, not both' });

export type QueueOptionsInput = z.input<typeof queueOptionsSchema>;
export type QueueOptions = z.output<typeof queueOptionsSchema>;

export function parseQueueOptions(input: unknown) {
  const parsed = queueOptionsSchema.safeParse(input ?? {});
  if (!parsed.success) throw ValidationError.fromZod('DatabaseQueue options', parsed.error, input ?? {});
  return parsed.data;
}
