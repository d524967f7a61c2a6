/**
 * Typed jobs: a job type, its payload schema and its handler in one definition.
 *
 *   export const sendReceipt = defineJob({
 *     type: 'SEND_RECEIPT',
 *     payload: z.object({ orderId: z.string(), total: z.number() }),
 *     handler: async (job) => mailer.send(job.payload.orderId),   // payload typed, never null
 *   });
 *   await queue.enqueue(sendReceipt, { orderId: 'o_1', total: 42 }, { tx });   // checked by tsc and by the schema
 *   new Worker({ queue, handlers: jobHandlers(sendReceipt, resizeImage) });
 *
 * The handler gets the payload parsed by the schema again (defaults applied, z.coerce.date()
 * revived as a Date). A stored payload the schema refuses (enqueued by hand, or under an older
 * schema) fails the job for good with the schema's complaint: a retry would meet the same payload.
 */
import type { z } from 'zod';
import { jobTypeSchema } from '../core/config.js';
import { NonRetryableError, ValidationError } from '../core/errors.js';
import { specToInput, type JobOverrides, type JobSpec } from '../core/job-spec.js';
import type { EnqueueInput, Job } from '../core/types.js';
import type { JobContext, JobHandler } from './run-job.js';
import type { JobTaskDefinition } from './worker-types.js';

/** A job as a defined job's handler sees it: its payload is the schema's output, never null. */
export type DefinedJob<P> = Omit<Job<P>, 'payload'> & { payload: P };

export interface JobDefinition<In = unknown, Out = In, R = unknown, T extends string = string> extends JobSpec<In, Out, T> {
  readonly handler: (job: DefinedJob<Out>, ctx: JobContext<Out>) => Promise<R>;
  /** Checked before the result is stored; a result it refuses fails the attempt. */
  readonly result?: z.ZodType<R>;
  /** Jobs of this type running at once in one Worker. Default 1. */
  readonly concurrency?: number;
  /** An attempt running longer is aborted and failed. Default: the Worker's (5 minutes). */
  readonly timeoutMs?: number;
  /** This type's job for `payload`, checked, for enqueueMany, follow-ups (ctx.enqueueOnComplete) and schedules. */
  job(payload: In, overrides?: JobOverrides): EnqueueInput<Out>;
}

export function defineJob<S extends z.ZodType, R = unknown, const T extends string = string>(definition: {
  type: T;
  payload: S;
  handler: (job: DefinedJob<z.output<S>>, ctx: JobContext<z.output<S>>) => Promise<R>;
  result?: z.ZodType<R>;
  concurrency?: number;
  timeoutMs?: number;
  maxAttempts?: number;
  priority?: number;
}): JobDefinition<z.input<S>, z.output<S>, R, T> {
  const type = jobTypeSchema.safeParse(definition.type);
  if (!type.success) throw ValidationError.fromZod('defineJob type', type.error, { type: definition.type });
  const spec = definition as unknown as JobSpec<z.input<S>, z.output<S>>;
  return { ...definition, job: (payload, overrides) => specToInput(spec, payload, overrides) } as JobDefinition<z.input<S>, z.output<S>, R, T>;
}

/** The handler the runners call for a definition: the payload parsed again, the result checked. */
export function definedHandler<In, Out, R>(definition: JobDefinition<In, Out, R>): JobHandler {
  return async (job, ctx) => {
    const parsed = definition.payload.safeParse(job.payload ?? undefined);
    if (!parsed.success) throw new NonRetryableError(ValidationError.fromZod(`stored payload for ${definition.type}`, parsed.error).message);
    const typed = { ...job, payload: parsed.data } as DefinedJob<Out>;
    const result = await definition.handler(typed, { ...ctx, job: typed } as unknown as JobContext<Out>);
    if (!definition.result) return result;
    const checked = definition.result.safeParse(result);
    if (!checked.success) throw ValidationError.fromZod(`result of ${definition.type}`, checked.error);
    return checked.data;
  };
}

/** One registry from definitions, for `new Worker({ handlers })`, `cronRoute({ handlers })` and `drainQueue(queue, { handlers })`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each definition has its own payload type
export function jobHandlers(...definitions: JobDefinition<any, any, any>[]): Record<string, JobTaskDefinition> {
  const registry: Record<string, JobTaskDefinition> = {};
  for (const definition of definitions) {
    if (registry[definition.type]) throw new ValidationError(`jobHandlers: ${definition.type} is defined twice`);
    registry[definition.type] = {
      handler: definedHandler(definition),
      ...(definition.concurrency === undefined ? {} : { concurrency: definition.concurrency }),
      ...(definition.timeoutMs === undefined ? {} : { timeoutMs: definition.timeoutMs }),
    };
  }
  return registry;
}
