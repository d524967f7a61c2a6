/**
 * Fan-out for cron routes (cronRoute's `fanOut`): a tick that finds more due work than it can
 * finish in its budget starts more invocations of its own route, and each of those may start more
 * while work remains, up to `maxConcurrentInvocations` held in Postgres (queue.invocations), so
 * twenty ticks arriving at once still run at most the cap. An empty queue starts nothing.
 *
 * An invocation is started by a GET to the route's own URL carrying the cron secret in the
 * Authorization header (never in the URL) and the id of the slot reserved for it in
 * `x-conveyor-invocation`. The started route answers at once with a streamed body (the drain's
 * result follows when it ends), so the starter waits for the headers only, then hangs up: it is
 * fire-and-forget with an acknowledgement. A start that fails (no answer in 10 s, an error status)
 * frees its reserved slot at once; one that never arrives frees it when its lease passes.
 *
 * An invocation that ends with work left (jobs due after it made progress, or a timer coming due
 * within the next budget) hands its slot on to a new invocation, so a backlog keeps draining at
 * the cap between cron ticks and a workflow's sleep ends on time.
 */
import { z } from 'zod';
import type { JobQueue } from '../core/queue-api.js';
import { ValidationError } from '../core/errors.js';
import type { DrainResult } from '../runtime/drain.js';
import { MAX_INVOCATION_SLOTS, type HeldSlot, type ReservedSlot } from '../runtime/invocation-slots.js';
import type { Logger } from '../observability/log.js';

/** The header naming the slot reserved for a started invocation. */
export const INVOCATION_HEADER = 'x-conveyor-invocation';

export interface FanOutOptions {
  /** Invocations of this route running at once, cron ticks included, across every instance. */
  maxConcurrentInvocations: number;
  /** Where started invocations are sent. Default: the URL this call came in on, without its query. Set it in production (your production domain). */
  url?: string | ((request: Request) => string);
  /** Headers added to each start (Vercel's `x-vercel-protection-bypass` for protected preview deployments). */
  headers?: Record<string, string> | (() => Record<string, string>);
  /** The name the route's slots are counted under. Default: the URL's path. */
  name?: string;
  /** How long a started invocation has to arrive and take its slot. Default 30 s. */
  startLeaseMs?: number;
}

const fanOutSchema = z.object({
  maxConcurrentInvocations: z.number().int().min(1).max(MAX_INVOCATION_SLOTS),
  url: z.union([z.url(), z.function()]).optional(),
  headers: z.union([z.record(z.string(), z.string()), z.function()]).optional(),
  name: z.string().min(1).max(200).optional(),
  startLeaseMs: z.number().int().min(1_000).max(600_000).optional(),
});

/** Checks fanOut options at import, so a bad one fails the build, not each call. */
export function parseFanOutOptions(options: FanOutOptions): FanOutOptions {
  const parsed = fanOutSchema.safeParse(options);
  if (!parsed.success) throw ValidationError.fromZod('fanOut', parsed.error, options);
  return options;
}

const START_TIMEOUT_MS = 10_000;

/** One invocation's part in the route's fan-out: its slot, and the invocations it starts. */
export class RouteFanOut {
  /** Invocations this one started (fanned out, or handed its slot on to). */
  started = 0;
  private slot: HeldSlot | null = null;
  private readonly url: string;
  private readonly route: string;

  constructor(
    private readonly queue: JobQueue,
    private readonly options: FanOutOptions,
    private readonly request: Request,
    /** The secret this call was authorized with, sent on to the ones it starts (none in open development). */
    private readonly secret: string | undefined,
    private readonly logger: Logger,
  ) {
    const target = typeof options.url === 'function' ? options.url(request) : (options.url ?? request.url);
    const url = new URL(target);
    url.search = '';
    this.url = url.toString();
    this.route = options.name ?? url.pathname;
  }

  /** Whether this call was started by another invocation (it answers at once, streaming). */
  get startedByInvocation(): boolean {
    return this.request.headers.has(INVOCATION_HEADER);
  }

  get cap(): number {
    return this.options.maxConcurrentInvocations;
  }

  /** Takes this invocation's slot (its reserved one if it was started); false when the cap is reached. */
  async enter(leaseMs: number): Promise<boolean> {
    const reserved = this.request.headers.get(INVOCATION_HEADER);
    this.slot = await this.queue.invocations.take(this.route, { cap: this.cap, leaseMs, reserved });
    return this.slot !== null;
  }

  /** The drain's onBacklog: starts invocations until `wanted` hold slots in all, at most the cap. */
  async scaleTo(wanted: number): Promise<void> {
    if (wanted <= 1) return;
    const reserved = await this.queue.invocations.reserve(this.route, { cap: this.cap, want: wanted, leaseMs: this.startLeaseMs });
    await Promise.all(reserved.map((slot) => this.start(slot)));
  }

  /** At the drain's end: hands the slot on when work is left for the next invocation, else frees it. */
  async leave(result: DrainResult | null, nextBudgetMs: number): Promise<void> {
    const slot = this.slot;
    if (!slot) return;
    this.slot = null;
    if (!result) return void (await this.queue.invocations.release(slot.route, slot.holder));
    const left = result.remaining;
    // Due jobs are handed on only after progress: due jobs nobody could claim (a concurrency key
    // held elsewhere) must not keep a chain of idle invocations alive.
    const workLeft = left !== null && ((left.due > 0 && result.processed > 0) || (left.nextInMs !== null && left.nextInMs < nextBudgetMs));
    if (workLeft) {
      const next = await this.queue.invocations.handOn(slot, { leaseMs: this.startLeaseMs });
      if (next) await this.start(next);
      return;
    }
    await this.queue.invocations.release(slot.route, slot.holder);
  }

  private get startLeaseMs(): number {
    return this.options.startLeaseMs ?? 30_000;
  }

  private async start(slot: ReservedSlot): Promise<boolean> {
    const extra = typeof this.options.headers === 'function' ? this.options.headers() : (this.options.headers ?? {});
    const headers: Record<string, string> = { ...extra, [INVOCATION_HEADER]: slot.holder };
    if (this.secret) headers.authorization = `Bearer ${this.secret}`;
    try {
      // No redirects: the secret goes to this URL and nowhere else.
      const response = await fetch(this.url, { headers, redirect: 'manual', signal: AbortSignal.timeout(START_TIMEOUT_MS) });
      void response.body?.cancel().catch(() => {});
      if (response.ok) {
        this.started++;
        return true;
      }
      this.logger.warn({ route: this.route, status: response.status }, 'cron fan-out: the started invocation refused');
    } catch (error) {
      this.logger.warn({ route: this.route, err: error }, 'cron fan-out: could not start an invocation');
    }
    await this.queue.invocations.release(this.route, slot.holder).catch(() => {});
    return false;
  }
}
