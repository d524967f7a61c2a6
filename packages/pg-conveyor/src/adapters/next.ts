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
 * @module pg-conveyor/next
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { JobQueue } from '../core/queue-api.js';
import { drainQueue, drainTasks, type DrainResult } from '../runtime/drain.js';
import { ValidationError } from '../core/errors.js';
import { explainDatabaseError } from '../core/database-check.js';
import { defaultLogger, FaultLog, resolveLogger, type Logger } from '../observability/log.js';
import type { HandlerRegistry } from '../runtime/worker-types.js';

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
  /** Jobs (or batches) running at once in one call. Default 1. */
  concurrency?: number;
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

/** A GET handler that drains the handlers' job types, once per call. */
export function cronRoute(options: CronRouteOptions): (request: Request) => Promise<Response> {
  const types = Object.keys(options.handlers ?? {});
  if (types.length === 0) throw new ValidationError('cronRoute needs handlers: { JOB_TYPE: async (job, ctx) => result }');
  drainTasks({ handlers: options.handlers }); // a bad handler fails at import, not on each call
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

  return async (request: Request): Promise<Response> => {
    const auth = checkBearer(request, secretName, process.env, options.openWhenUnset);
    if (!auth.ok) {
      if (auth.status === 500) report(`${auth.error}: refusing to run the cron route`);
      return Response.json({ success: false, error: auth.error }, { status: auth.status });
    }
    const started = Date.now();
    try {
      const queue = queueOf();
      if (options.fireSchedules !== false) await queue.schedules.fireDue();
      const budgetMs = typeof options.budgetMs === 'function' ? options.budgetMs() : options.budgetMs;
      const result = await drainQueue(queue, { handlers: options.handlers, maxJobs: options.maxJobs, concurrency: options.concurrency, budgetMs });
      await options.onResult?.(result);
      const { success: _, ...figures } = result;
      logger().info({ route: types, ...figures }, 'cron drain finished');
      return Response.json(result);
    } catch (error) {
      // A refused connection or missing tables are logged with what to do about them.
      report(`cron route for ${types.join(', ')} failed`, explainDatabaseError(error, undefined));
      return Response.json({ success: false, processed: 0, duration: Date.now() - started, error: 'Worker failed; see server logs' }, { status: 500 });
    }
  };
}
