/**
 * A job type with a payload schema (defineJob's core half): what enqueue needs to check a
 * payload at compile time and at run time. The handler half is in runtime/define-job.ts.
 */
import type { z } from 'zod';
import { ValidationError } from './errors.js';
import type { EnqueueInput } from './types.js';

export interface JobSpec<In = unknown, Out = In, T extends string = string> {
  /** The job type (`jobType` in the table). */
  readonly type: T;
  /** The payload's schema: enqueue checks payloads with it, the handler gets its parsed output. */
  readonly payload: z.ZodType<Out, In>;
  /** Defaults for each job of this type; an enqueue's own options win. */
  readonly maxAttempts?: number;
  readonly priority?: number;
}

/** What enqueue may set per job beside the payload. */
export type JobOverrides = Omit<EnqueueInput, 'jobType' | 'payload'>;

/** The payload a spec's enqueue takes (its schema's input). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- matches any spec
export type PayloadOf<S extends JobSpec<any, any>> = S extends JobSpec<infer In, unknown> ? In : never;

/**
 * The job types an app declares, so that plain enqueues (`{ jobType, payload }`) are checked at
 * compile time too: a type not declared, or a payload of the wrong shape, is an error. Declare it
 * by declaration merging, as graphile-worker's GraphileWorker.Tasks:
 *
 *   declare module 'pg-conveyor' {
 *     interface JobTypes extends JobPayloads<typeof sendReceipt | typeof resizeImage> {
 *       CLEANUP: { days: number };
 *     }
 *   }
 *
 * Left empty (the default), any job type and payload compile.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled by the app's declaration merging
export interface JobTypes {}

/** Job types and payloads of defined jobs, for `interface JobTypes extends JobPayloads<...>`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- matches any spec
export type JobPayloads<S extends JobSpec<any, any, string>> = { [D in S as D['type']]: PayloadOf<D> };

type DeclaredType = keyof JobTypes & string;

/** A plain job to enqueue: any `EnqueueInput` while JobTypes is empty, else one of the declared types with its payload. */
export type PlainJobInput<P = unknown> = [DeclaredType] extends [never]
  ? EnqueueInput<P>
  : {
      [K in DeclaredType]: JobOverrides & { jobType: K } & (undefined extends JobTypes[K] ? { payload?: JobTypes[K] } : { payload: JobTypes[K] });
    }[DeclaredType];

export function isJobSpec(value: unknown): value is JobSpec {
  const spec = value as Partial<JobSpec> | null;
  return typeof spec?.type === 'string' && typeof (spec.payload as { safeParse?: unknown } | undefined)?.safeParse === 'function';
}

/**
 * The job to insert for `payload`, checked by the spec's schema: a payload the schema refuses is
 * a ValidationError naming the field (not the value: payloads may be private), and so is one
 * that would not read back the same after storage as JSON (a Date under z.date() arrives as a
 * string: declare it z.coerce.date() or an ISO string), so nothing is silently turned into
 * something else.
 */
export function specToInput<Out>(spec: JobSpec<unknown, Out>, payload: unknown, overrides: JobOverrides = {}): EnqueueInput<Out> {
  const parsed = spec.payload.safeParse(payload);
  if (!parsed.success) throw ValidationError.fromZod(`payload for ${spec.type}`, parsed.error);
  const stored = parsed.data === undefined ? undefined : JSON.parse(JSON.stringify(parsed.data));
  const reread = spec.payload.safeParse(stored);
  if (!reread.success) {
    const { message, issues } = ValidationError.fromZod(`payload for ${spec.type}: it would not read back from JSON storage as the schema wants`, reread.error);
    throw new ValidationError(`${message}; declare dates as z.coerce.date() or ISO strings, and use only JSON values`, issues);
  }
  const defaults: JobOverrides = {};
  if (spec.priority !== undefined) defaults.priority = spec.priority;
  if (spec.maxAttempts !== undefined) defaults.maxAttempts = spec.maxAttempts;
  return { ...defaults, ...overrides, jobType: spec.type, payload: parsed.data };
}

/**
 * A defined job's enqueue arguments (`enqueue(spec, payload, options)`, `enqueueMany(spec,
 * payloads, options)`) as plain inputs and the options that are not per job.
 */
export function specEnqueueArgs(spec: JobSpec, payloads: unknown[], options: unknown): [EnqueueInput[], { tx?: unknown }] {
  const { tx, ...overrides } = (options ?? {}) as JobOverrides & { tx?: unknown };
  return [payloads.map((payload) => specToInput(spec, payload, overrides)), { tx }];
}
