/** The Worker's options and per-type task definitions, checked (one zod schema each) and defaulted. */
import { z } from 'zod';
import { DEFAULTS, WORKER_DEFAULTS } from '../core/config.js';
import { ValidationError } from '../core/errors.js';
import type { BatchHandler } from './run-batch.js';
import type { JobHandler } from './run-job.js';
import type { TaskDefinition, WorkerOptions } from './worker-types.js';

const optionsSchema = z.object({
  pollIntervalMs: z.number().int().min(10).max(3_600_000).default(WORKER_DEFAULTS.pollIntervalMs),
  shutdownTimeoutMs: z.number().int().min(0).max(3_600_000).default(WORKER_DEFAULTS.shutdownTimeoutMs),
  graceMs: z.number().int().min(0).max(600_000).default(WORKER_DEFAULTS.graceMs),
  leaseMs: z.number().int().min(1_000).max(86_400_000).default(WORKER_DEFAULTS.leaseMs),
});
const taskSchema = z.object({
  concurrency: z.number().int().min(1).max(1_000).default(WORKER_DEFAULTS.concurrency),
  timeoutMs: z.number().int().min(1).max(86_400_000).default(WORKER_DEFAULTS.timeoutMs),
  prefetch: z.number().int().min(0).max(DEFAULTS.claimBatchMax).default(0),
  batchSize: z.number().int().min(1).max(DEFAULTS.claimBatchMax).optional(),
});

export type ParsedWorkerOptions = z.output<typeof optionsSchema>;

export function parseWorkerOptions(options: WorkerOptions): ParsedWorkerOptions {
  const parsed = optionsSchema.safeParse({
    pollIntervalMs: options.pollIntervalMs,
    shutdownTimeoutMs: options.shutdownTimeoutMs,
    graceMs: options.graceMs,
    leaseMs: options.leaseMs,
  });
  if (!parsed.success) throw ValidationError.fromZod('Worker options', parsed.error, options);
  return parsed.data;
}

export type TaskRun = { handler: JobHandler } | { batchHandler: BatchHandler; batchSize: number };

/** A handler function, `{ handler, concurrency, ... }` or `{ batch: { size, handler } }`, checked. */
export function parseTaskDefinition(type: string, definition: TaskDefinition | JobHandler) {
  const invalid = () => new ValidationError(`Invalid handler for ${type}: give a handler function or batch: { size, handler }`);
  if (typeof definition !== 'function' && (typeof definition !== 'object' || definition === null)) throw invalid();
  const given = typeof definition === 'function' ? { handler: definition } : definition;
  const batch = 'batch' in given ? given.batch : undefined;
  const handler = 'handler' in given ? given.handler : undefined;
  if (typeof (batch?.handler ?? handler) !== 'function') throw invalid();
  const limits = taskSchema.safeParse({
    concurrency: given.concurrency,
    timeoutMs: given.timeoutMs,
    prefetch: 'prefetch' in given ? given.prefetch : undefined,
    batchSize: batch ? batch.size : undefined,
  });
  if (!limits.success) throw ValidationError.fromZod(`handler for ${type}`, limits.error, { ...given, ...(batch ? { batchSize: batch.size } : {}) });
  const { concurrency, timeoutMs, prefetch, batchSize } = limits.data;
  const run: TaskRun = batch ? { batchHandler: batch.handler as BatchHandler, batchSize: batchSize! } : { handler: handler as JobHandler };
  return { run, concurrency, timeoutMs, prefetch, batchSize };
}
