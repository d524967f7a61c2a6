/**
 * Cron routes for Next.js (App Router) or anything else that speaks web Request/Response:
 *
 *   // app/api/workers/email/route.ts
 *   import { cronRoute } from 'pg-conveyor/next';
 *   export const GET = cronRoute({ queue: () => queue, handlers: { SEND_EMAIL: sendEmail } });
 *
 * Each call checks `Authorization: Bearer $CRON_SECRET` in constant time before any database work,
 * fires due schedules, drains the handlers' job types within the time budget (drainQueue: nothing
 * is held when it returns), and answers the drain's result as JSON. The secret fails closed: unset
 * (or, in production, shorter than 32 characters) the route answers 500 and runs nothing.
 *
 * With `fanOut`, a call whose backlog outgrows one invocation starts more of itself, up to a cap
 * counted in Postgres (cron-fan-out.ts); a call started that way answers at once and streams its
 * result.
 *
 * @module pg-conveyor/next
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { JobQueue } from '../core/queue-api.js';
import { DEFAULTS, DRAIN_DEFAULTS } from '../core/config.js';
import { drainQueue, drainTasks, type DrainResult } from '../runtime/drain.js';
import { parseFanOutOptions, RouteFanOut, type FanOutOptions } from './cron-fan-out.js';
import { ValidationError } from '../core/errors.js';
import { explainDatabaseError } from '../core/database-check.js';
import { defaultLogger, FaultLog, resolveLogger, type Logger } from '../observability/log.js';
import type { HandlerRegistry } from '../runtime/worker-types.js';

export { INVOCATION_HEADER, type FanOutOptions } from './cron-fan-out.js';

export const MIN_SECRET_LENGTH = 32;

type Env = Record<string, string | undefined>;

export type BearerCheck = { ok: true; presented: boolean } | { ok: false; status: 401 | 500; error: string };

/**
 * Whether `request` carries `Authorization: Bearer <env[name]>`. With the secret unset: allowed
 * (presented: false) when `openWhenUnset(env)` says so, else refused as misconfigured (500).
 */
export function checkBearer(request: Request, name: string, env: Env = process.env, openWhenUnset: (env: Env) => boolean = () => false): BearerCheck {
  const secret = env[name];
  if (!secret) {
    if (openWhenUnset(env)) return { ok: true, presented: false };
    return { ok: false, status: 500, error: `Server misconfigured: ${name} is not set` };
  }
  if (env.NODE_ENV === 'production' && secret.length < MIN_SECRET_LENGTH) {
    return { ok: false, status: 500, error: `Server misconfigured: ${name} must be at least ${MIN_SECRET_LENGTH} characters` };
  }
  const header = request.headers.get('authorization') ?? '';
  const presented = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
  if (!constantTimeEqual(presented, secret)) return { ok: false, status: 401, error: 'Unauthorized' };
  return { ok: true, presented: true };
}

/** Hashing first gives equal-length inputs, so neither the content nor the length leaks by timing. */
function constantTimeEqual(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}

export interface CronRouteOptions {
  /** The queue, or a function giving it on each call (so importing the route opens no connection). */
  queue: JobQueue | (() => JobQueue);
  /** The Worker's registry: a handler per job type (a function, `{ handler, timeoutMs }`, `{ batch }`, or `jobHandlers(...definitions)`); the route drains exactly these types. */
  handlers: HandlerRegistry;
  /** Jobs per call at most. Default: as many as the budget allows. */
  maxJobs?: number;
  /** Jobs of a type per call at most, by type (the API contract's ingestion route: `{ INGEST_DATA: 3 }`). */
  maxJobsByType?: Record<string, number>;
  /** Jobs (or batches) running at once in one call: I/O-bound handlers overlap. Default 1. */
  concurrency?: number;
  /** Start more invocations of this route when the backlog needs them, up to `maxConcurrentInvocations`. Default: off. */
  fanOut?: FanOutOptions;
  /** With nothing to claim, wait inside the budget for the next job coming due (a sleep, a backoff). Default true. */
  waitForTimers?: boolean;
  /** Time this call may use, in ms (a number, or read on each call). Default 50,000: Vercel's limit is 60 s. */
  budgetMs?: number | (() => number);
  /** The environment variable holding the secret. Default CRON_SECRET. */
  secretName?: string;
  /** Run without the secret when it is unset and this says so (for local development only). Default: never. */
  openWhenUnset?: (env: Env) => boolean;
  /** Fire due schedules before draining (recurring jobs fire from whatever runs). Default true. */
  fireSchedules?: boolean;
  /** Told each finished drain (a heartbeat, a metric). Its failure fails the call. */
  onResult?: (result: DrainResult) => unknown;
  /** Told a refused or failed call, instead of the logger's error line. */
  onError?: (message: string, error?: unknown) => void;
  /** Where the route's lines go (one per drain, one per failure); false for none. Default: the queue's logger. */
  logger?: Logger | false;
}

/** A JSON answer whose headers go now and whose body is `body` when it settles. */
function streamedJson(body: Promise<unknown>): Response {
  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      const text = JSON.stringify(await body);
      try {
        controller.enqueue(encoder.encode(text));
        controller.close();
      } catch {
        // The caller hung up (a starter that only waited for the headers): nobody reads the result.
      }
    },
  });
  return new Response(stream, { headers: { 'content-type': 'application/json' } });
}

/** A GET handler that drains the handlers' job types, once per call. */
export function cronRoute(options: CronRouteOptions): (request: Request) => Promise<Response> {
  const types = Object.keys(options.handlers ?? {});
  if (types.length === 0) throw new ValidationError('cronRoute needs handlers: { JOB_TYPE: async (job, ctx) => result }');
  drainTasks({ handlers: options.handlers }); // a bad handler fails at import, not on each call
  if (options.fanOut) parseFanOutOptions(options.fanOut);
  const secretName = options.secretName ?? 'CRON_SECRET';
  const queueOf = () => (typeof options.queue === 'function' ? options.queue() : options.queue);
  // The queue is made on the first call (importing the route opens no connection), so is its logger.
  const logger = () =>
    resolveLogger(options.logger, () => {
      try {
        return queueOf().logger;
      } catch {
        return defaultLogger(); // no queue to be had (its configuration is what failed)
      }
    });
  let faults: FaultLog | null = null;
  const report =
    options.onError ??
    ((message: string, error?: unknown) => {
      if (error === undefined) logger().error({ route: types }, message);
      else (faults ??= new FaultLog(logger())).report(message, error, { route: types });
    });

  const tick = async (queue: JobQueue, budgetMs: number, fan: RouteFanOut | null) => {
    let result: DrainResult | undefined;
    try {
      if (options.fireSchedules !== false) await queue.schedules.fireDue();
      result = await drainQueue(queue, {
        handlers: options.handlers,
        maxJobs: options.maxJobs,
        maxJobsByType: options.maxJobsByType,
        concurrency: options.concurrency,
        waitForTimers: options.waitForTimers,
        budgetMs,
        onBacklog: fan ? ({ invocationsWanted }) => fan.scaleTo(invocationsWanted) : undefined,
      });
    } finally {
      // Whatever happened, the slot is handed on (work left) or freed; a failure here is logged, the drain's result stands.
      await fan?.leave(result ?? null, budgetMs).catch((error) => report('cron fan-out: could not free the slot', error));
    }
    await options.onResult?.(result);
    const { success: _, ...figures } = result;
    logger().info({ route: types, ...figures, ...(fan ? { started: fan.started } : {}) }, 'cron drain finished');
    return fan ? { ...result, invocationsStarted: fan.started } : result;
  };

  return async (request: Request): Promise<Response> => {
    const auth = checkBearer(request, secretName, process.env, options.openWhenUnset);
    if (!auth.ok) {
      if (auth.status === 500) report(`${auth.error}: refusing to run the cron route`);
      return Response.json({ success: false, error: auth.error }, { status: auth.status });
    }
    const started = Date.now();
    const failed = (error: unknown) => {
      // A refused connection or missing tables are logged with what to do about them.
      report(`cron route for ${types.join(', ')} failed`, explainDatabaseError(error, undefined));
      return { success: false as const, processed: 0, duration: Date.now() - started, error: 'Worker failed; see server logs' };
    };
    try {
      const queue = queueOf();
      const budgetMs = (typeof options.budgetMs === 'function' ? options.budgetMs() : options.budgetMs) ?? DRAIN_DEFAULTS.budgetMs;
      const fan = options.fanOut ? new RouteFanOut(queue, options.fanOut, request, process.env[secretName], logger()) : null;
      if (fan && !(await fan.enter(budgetMs + DRAIN_DEFAULTS.graceMs + DEFAULTS.drainLeaseExtraMs))) {
        return Response.json({ success: true, processed: 0, duration: Date.now() - started, skipped: `${fan.cap} invocations of this route are running` });
      }
      const work = tick(queue, budgetMs, fan);
      // Started by another invocation: answer now (that is its acknowledgement), the result follows.
      if (fan?.startedByInvocation) return streamedJson(work.catch(failed));
      return Response.json(await work);
    } catch (error) {
      return Response.json(failed(error), { status: 500 });
    }
  };
}
