/**
 * One advance of a run: its code runs again from the top, and each ctx call at position n
 * answers from the step stored at n (without running it), until the first position with nothing
 * stored. There the step runs and is stored, and the advance goes on while it may (first attempt,
 * time left); otherwise, or at a sleep not yet over, the run suspends: the advancing job
 * completes, and its follow-up (due at the sleep's end) continues the run later.
 */
import { NonRetryableError } from '../../core/errors.js';
import { mapItemsOf, stepStore, waitTimeOut, type StepRow } from './queries.js';
import type { SqlExecutor } from '../../sql/executor.js';

export interface WorkflowContext {
  readonly runId: string;
  /**
   * Aborts when this advance (or map item) must stop: its time budget is spent, the run was
   * cancelled, or its job was taken over. Give it to a step's fetches and loops.
   */
  readonly signal: AbortSignal;
  /** Runs `fn` once; later replays answer its stored (JSON) result without running it. */
  step<T>(name: string, fn: () => Promise<T> | T): Promise<T>;
  /** Suspends the run for `ms` (no connection, no worker slot held), then continues. */
  sleep(name: string, ms: number): Promise<void>;
  sleepUntil(name: string, until: Date): Promise<void>;
  /**
   * Suspends the run until `sendEvent(event, payload)` with a payload containing `match` (JSON
   * containment), answering the payload; or until `timeoutMs`, answering null. Only events sent
   * after the run reached this wait count.
   */
  waitForEvent<T = unknown>(name: string, options: { event: string; match?: Record<string, unknown>; timeoutMs: number }): Promise<T | null>;
  /**
   * Fan-out and fan-in: `fn(item, index)` for every item, each as a job of its own (so across
   * workers and cron invocations, each with the queue's retries), the results in item order once
   * all are done. An item that fails for good fails the map (MapItemError) unless
   * `settle: true`, which answers `{ ok: true, value }` or `{ ok: false, error }` per item.
   * `items` must come out the same on every replay (from stored steps, or the input).
   */
  map<I, T>(name: string, items: I[], fn: (item: I, index: number) => Promise<T> | T): Promise<T[]>;
  map<I, T>(name: string, items: I[], fn: (item: I, index: number) => Promise<T> | T, options: { settle: true }): Promise<MapSettled<T>[]>;
}

export type MapSettled<T> = { ok: true; value: T } | { ok: false; error: string };

/** An item of a ctx.map failed for good (which fails the run, unless its code catches it). */
export class MapItemError extends NonRetryableError {
  override name = 'MapItemError';
}

/** Thrown through the run's code in a map item's job once its item has run: `error` when it threw. */
export class ItemDone extends Error {
  override name = 'ItemDone';
  constructor(
    readonly value: unknown,
    readonly failure: unknown = undefined,
  ) {
    super('map item done');
  }
}

/** The run's code no longer calls its steps in the order they were stored: it was changed under a live run. */
export class NonDeterminismError extends Error {
  override name = 'NonDeterminismError';
}

/** Thrown through the run's code to stop it at a step boundary; `wakeAt`: a sleep's end. */
export class Suspension extends Error {
  override name = 'Suspension';
  constructor(
    readonly at: string,
    readonly wakeAt: Date | null,
  ) {
    super(`workflow suspended at ${at}`);
  }
}

export interface ReplayOptions {
  db: SqlExecutor;
  runId: string;
  steps: StepRow[];
  /** The advancing job's attempt: steps run after a retry get a fresh job (and fresh attempts) each. */
  attempt: number;
  /** When the advancing job became due: a stored sleep ending by then is over. */
  dueAt: Date;
  /** Past this (epoch ms), no new step starts in this advance. */
  softDeadline: number;
  /** The test clock's time, or null for the database's. */
  now: () => Date | null;
  /** The advancing job's signal (ctx.signal of the job handler). */
  signal: AbortSignal;
  /** Set in a map item's job: replay up to that map and run only this item. */
  item?: { seq: number; index: number };
}

export class Replay {
  private position = 0;
  private ranOne = false;
  /** Set once the run must stop here; every later ctx call throws it again. */
  suspension: Suspension | null = null;
  /** Set when the run stops at a map whose items are not all done: the items still to run. */
  fanOut: { seq: number; missing: number[] } | null = null;
  /** The step whose body is running (or threw): where a failed advance stopped. */
  running: string | null = null;
  readonly context: WorkflowContext;

  constructor(private readonly o: ReplayOptions) {
    this.context = {
      runId: o.runId,
      signal: o.signal,
      step: (name, fn) => this.step(name, fn),
      sleep: (name, ms) => this.sleep(name, { ms }),
      sleepUntil: (name, until) => this.sleep(name, { until }),
      waitForEvent: <T>(name: string, options: { event: string; match?: Record<string, unknown>; timeoutMs: number }) =>
        this.waitForEvent(name, options) as Promise<T | null>,
      map: ((name: string, items: unknown[], fn: (item: unknown, index: number) => unknown, options?: { settle?: boolean }) =>
        this.map(name, items, fn, options?.settle === true)) as WorkflowContext['map'],
    };
  }

  storedStep(seq: number): StepRow | undefined {
    return this.o.steps[seq];
  }

  /** How many stored steps the code has called so far. */
  get replayed(): number {
    return this.position;
  }

  private stored(name: string, kind: StepRow['kind']): StepRow | undefined {
    if (this.suspension) throw this.suspension;
    const stored = this.o.steps[this.position];
    // A map item's job only replays what the run stored before its map: anything else is new code.
    if (this.o.item && !stored) {
      throw new NonDeterminismError(
        `workflow code changed under run ${this.o.runId}: call ${this.position + 1} (${kind} "${name}") was not stored before the map its item belongs to`,
      );
    }
    if (stored && (stored.name !== name || stored.kind !== kind)) {
      throw new NonDeterminismError(
        `workflow code changed under run ${this.o.runId}: call ${this.position + 1} is ${kind} "${name}", but the run stored ${stored.kind} "${stored.name}" there`,
      );
    }
    return stored;
  }

  private suspend(at: string, wakeAt: Date | null = null): never {
    this.suspension = new Suspension(at, wakeAt);
    throw this.suspension;
  }

  private async step<T>(name: string, fn: () => Promise<T> | T): Promise<T> {
    const stored = this.stored(name, 'step');
    if (stored) {
      this.position++;
      return stored.output as T;
    }
    // Each advance runs at least one new step. It runs no second one after a retry (so the next
    // step starts with all its attempts) or late in its time budget: a fresh job continues.
    if (this.ranOne && (this.o.attempt > 1 || Date.now() >= this.o.softDeadline)) this.suspend(name);
    const started = performance.now();
    this.running = name;
    const value = await fn();
    this.running = null;
    const durationMs = Math.round(performance.now() - started);
    const json = value === undefined ? null : JSON.stringify(value);
    const row = await stepStore(this.o.db, {
      runId: this.o.runId,
      seq: this.position,
      name,
      kind: 'step',
      output: json,
      sleepMs: null,
      wakeAt: null,
      attempt: this.o.attempt,
      now: this.o.now(),
      durationMs,
    });
    this.o.steps[this.position] = row;
    this.position++;
    this.ranOne = true;
    // What another execution stored first (a zombie's), so every replay agrees.
    return row.output as T;
  }

  private async sleep(name: string, p: { ms?: number; until?: Date }): Promise<void> {
    if (p.ms !== undefined) checkDuration(`ctx.sleep("${name}")`, p.ms);
    if (p.until !== undefined && !(p.until instanceof Date && Number.isFinite(p.until.getTime()))) {
      throw new NonRetryableError(`ctx.sleepUntil("${name}") needs a valid Date`);
    }
    const stored = this.stored(name, 'sleep');
    if (stored) {
      this.position++;
      if (stored.wake_at && new Date(stored.wake_at).getTime() > this.o.dueAt.getTime()) this.suspend(name, new Date(stored.wake_at));
      return;
    }
    const row = await stepStore(this.o.db, {
      runId: this.o.runId,
      seq: this.position,
      name,
      kind: 'sleep',
      output: null,
      sleepMs: p.ms ?? null,
      wakeAt: p.until ?? null,
      attempt: this.o.attempt,
      now: this.o.now(),
    });
    this.o.steps[this.position] = row;
    this.position++;
    this.suspend(name, new Date(row.wake_at!));
  }

  private async map(name: string, items: unknown[], fn: (item: unknown, index: number) => unknown, settle: boolean): Promise<unknown[]> {
    if (!Array.isArray(items)) throw new TypeError(`ctx.map("${name}") needs an array of items`);
    const stored = this.stored(name, 'map');
    if (this.o.item && this.o.item.seq === this.position) {
      const index = this.o.item.index;
      try {
        throw new ItemDone(await fn(items[index], index));
      } catch (error) {
        throw error instanceof ItemDone ? error : new ItemDone(undefined, error);
      }
    }
    const seq = this.position;
    if (!stored) {
      const row = await stepStore(this.o.db, {
        runId: this.o.runId,
        seq,
        name,
        kind: 'map',
        output: JSON.stringify({ count: items.length }),
        sleepMs: null,
        wakeAt: null,
        attempt: this.o.attempt,
        now: this.o.now(),
      });
      this.o.steps[seq] = row;
    }
    const count = (this.o.steps[seq]!.output as { count: number }).count;
    if (count !== items.length)
      throw new NonDeterminismError(`workflow code changed under run ${this.o.runId}: map "${name}" has ${items.length} items, but the run stored ${count}`);
    const done = count === 0 ? [] : await mapItemsOf(this.o.db, { runId: this.o.runId, seq });
    if (done.length < count) {
      const stored = new Set(done.map((d) => d.idx));
      this.fanOut = { seq, missing: Array.from({ length: count }, (_, i) => i).filter((i) => !stored.has(i)) };
      this.suspend(name);
    }
    this.position++;
    if (settle) return done.map((d) => (d.error === null ? { ok: true, value: d.output } : { ok: false, error: d.error }));
    const failed = done.find((d) => d.error !== null);
    if (failed) throw new MapItemError(`map "${name}": item ${failed.idx} failed: ${failed.error}`);
    return done.map((d) => d.output);
  }

  private async waitForEvent(name: string, o: { event: string; match?: Record<string, unknown>; timeoutMs: number }): Promise<unknown> {
    checkDuration(`ctx.waitForEvent("${name}") timeoutMs`, o?.timeoutMs);
    if (typeof o.event !== 'string' || o.event.length < 1 || o.event.length > 200) {
      throw new NonRetryableError(`ctx.waitForEvent("${name}") needs an event name of 1-200 characters`);
    }
    if (o.match !== undefined && (o.match === null || typeof o.match !== 'object' || Array.isArray(o.match))) {
      throw new NonRetryableError(`ctx.waitForEvent("${name}") match must be a JSON object`);
    }
    let stored = this.stored(name, 'wait');
    if (!stored) {
      stored = await stepStore(this.o.db, {
        runId: this.o.runId,
        seq: this.position,
        name,
        kind: 'wait',
        output: null,
        sleepMs: o.timeoutMs,
        wakeAt: null,
        attempt: this.o.attempt,
        now: this.o.now(),
        event: o.event,
        match: o.match === undefined ? null : JSON.stringify(o.match),
      });
      this.o.steps[this.position] = stored;
    }
    if (!stored.resolved_at) {
      // Its timeout passed unresolved: resolve it as timed out (unless an event just did).
      if (new Date(stored.wake_at!).getTime() > this.o.dueAt.getTime()) this.suspend(name, new Date(stored.wake_at!));
      stored = await waitTimeOut(this.o.db, { runId: this.o.runId, seq: this.position, now: this.o.now() });
      this.o.steps[this.position] = stored;
    }
    this.position++;
    return stored.output ?? null;
  }
}

/**
 * A sleep or timeout the code asked for that Postgres could not store: a bug in the workflow, not a
 * passing fault, so it fails the run at once (retrying would ask again) with a message naming the call.
 */
function checkDuration(call: string, ms: unknown): void {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > 366 * 86_400_000) {
    throw new NonRetryableError(`${call} needs a number of milliseconds from 0 to a year, not ${String(ms)}`);
  }
}
