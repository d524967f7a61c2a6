/**
 * Durable workflows on the queue's own tables:
 *
 *   const onboarding = defineWorkflow({
 *     name: 'onboarding', input: z.object({ userId: z.string() }),
 *     run: async (ctx, { userId }) => {
 *       const account = await ctx.step('create account', () => createAccount(userId));
 *       await ctx.sleep('give them a day', 86_400_000);
 *       await ctx.step('send tips', () => sendTips(account));
 *       return { account };
 *     },
 *   });
 *   const workflows = new Workflows(queue, [onboarding]);
 *   const { runId } = await workflows.start('onboarding', { userId }, { tx });  // inside your transaction
 *   new Worker({ queue, handlers: workflows.handlers() })  // or cronRoute / drainQueue with the same handlers
 *
 * A run is advanced by ordinary jobs (type `workflow:<name>`, one active per run), so it is
 * claimed with SKIP LOCKED, fenced by attempt, rescued after a crash, drained by workers and by
 * cron routes within their budget, and retried with the queue's backoff: a step that throws fails
 * the advancing job's attempt, and the retry replays the stored steps and runs it again. When the
 * attempts are spent (or on NonRetryableError, or on non-determinism) the run is FAILED.
 */
import { nowParam } from '../core/clock.js';
import type { DatabaseQueue } from '../core/database-queue.js';
import { InvalidJobStateError, NonRetryableError, ValidationError } from '../core/errors.js';
import { inTransaction, toExecutor, type Queryable, type SqlExecutor } from '../sql/executor.js';
import { parseJobId } from '../core/job-input.js';
import type { JobContext, JobHandler } from '../runtime/run-job.js';
import type { Job } from '../core/types.js';
import {
  mapItemExists,
  mapItemStoreAndCount,
  mapSummaries,
  runActiveJobs,
  runAdvanceJob,
  runAndItemActiveJobs,
  runAdvanced,
  runCancel,
  runFindByKey,
  runFinish,
  runGet,
  runInsert,
  runList,
  runRetry,
  runWithSteps,
  stepsOf,
  waitResolveByEvent,
  type RunRow,
} from './engine/queries.js';
import { ItemDone, NonDeterminismError, Replay, Suspension } from './engine/replay.js';

export { MapItemError, NonDeterminismError, type MapSettled, type WorkflowContext } from './engine/replay.js';
export { defineWorkflow, RUN_STATUSES, workflowJobType } from './definition.js';
export type { WorkflowAdvance, WorkflowDefinition, WorkflowInput, WorkflowName, WorkflowRun, WorkflowRunStatus, WorkflowStep } from './definition.js';
import {
  RUN_STATUSES,
  toRun,
  workflowJobType,
  type WorkflowDefinition,
  type WorkflowInput,
  type WorkflowName,
  type WorkflowRun,
  type WorkflowRunStatus,
} from './definition.js';

const dedupeKey = (runId: string) => `workflow:${runId}`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each definition has its own input and output types
export class Workflows<D extends WorkflowDefinition<any, any, any, string> = WorkflowDefinition<any, any, any, string>> {
  private readonly byName = new Map<string, WorkflowDefinition>();
  private readonly db: SqlExecutor;

  /** `new Workflows(queue, [onboarding, billing])`: start() then knows their names and inputs at compile time. */
  constructor(
    private readonly queue: DatabaseQueue,
    definitions: readonly D[],
  ) {
    for (const definition of definitions) {
      if (this.byName.has(definition.name)) throw new ValidationError(`Workflow ${definition.name} is defined twice`);
      this.byName.set(definition.name, definition);
    }
    this.db = toExecutor(queue.pool, { prepare: queue.preparedStatements });
  }

  /** The handlers that advance these workflows' runs: give them to a Worker, cronRoute or drainQueue. */
  handlers(): Record<string, JobHandler> {
    return Object.fromEntries([...this.byName.keys()].map((name) => [workflowJobType(name), (job: Job, ctx: JobContext) => this.advance(job, ctx)]));
  }

  /**
   * Starts a run: the run and its first job in one transaction (yours with `tx`: nothing exists if
   * it rolls back). With `idempotencyKey`, starting again answers the existing run (`created: false`).
   */
  async start<N extends WorkflowName<D>>(
    workflow: N | Extract<D, { name: N }>,
    input: WorkflowInput<D, N>,
    options: { tx?: Queryable; idempotencyKey?: string } = {},
  ): Promise<{ runId: string; created: boolean }> {
    const name: string = typeof workflow === 'string' ? workflow : workflow.name;
    const definition = this.byName.get(name);
    if (!definition) throw new ValidationError(`No workflow named ${name} (defined: ${[...this.byName.keys()].join(', ') || 'none'})`);
    const parsed = definition.input.safeParse(input);
    if (!parsed.success) throw ValidationError.fromZod(`Input of workflow ${name}`, parsed.error);
    if (
      options.idempotencyKey !== undefined &&
      (typeof options.idempotencyKey !== 'string' || options.idempotencyKey.length < 1 || options.idempotencyKey.length > 300)
    ) {
      throw new ValidationError('idempotencyKey must be 1-300 characters');
    }
    const insert = async (tx: Queryable) => {
      const db = toExecutor(tx);
      const key = options.idempotencyKey ?? null;
      const [run] = await runInsert(db, { name, input: JSON.stringify(parsed.data ?? null), idempotencyKey: key, now: nowParam(this.queue.clock) });
      if (!run) return { runId: (await runFindByKey(db, { name, idempotencyKey: key! }))[0]!.id, created: false };
      await this.queue.enqueue(this.advanceJob(definition, run.id), { tx });
      return { runId: run.id, created: true };
    };
    return options.tx ? insert(options.tx) : inTransaction(this.queue.pool, insert);
  }

  /** The newest runs (without their steps): `status`, `name` filter; `limit` 1..100, default 20. */
  async listRuns(filter: { status?: WorkflowRunStatus; name?: string; limit?: number } = {}): Promise<Omit<WorkflowRun, 'steps'>[]> {
    const limit = filter.limit ?? 20;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new ValidationError('limit must be an integer from 1 to 100');
    if (filter.status && !RUN_STATUSES.includes(filter.status)) throw new ValidationError(`status must be one of ${RUN_STATUSES.join(', ')}`);
    const rows = await runList(this.db, { status: filter.status ?? null, name: filter.name ?? null, limit });
    return rows.map((row) => {
      const { steps: _, ...run } = toRun(row, []);
      return run;
    });
  }

  async getRun(id: string): Promise<WorkflowRun | null> {
    const runId = parseJobId(id);
    const [run] = await runGet(this.db, { id: runId });
    if (!run) return null;
    const [steps, maps, [advance]] = await Promise.all([stepsOf(this.db, { runId }), mapSummaries(this.db, { runId }), runAdvanceJob(this.db, { runId })]);
    const result = toRun(run, steps);
    const bySeq = new Map(maps.map((m) => [m.seq, m]));
    for (const step of result.steps.filter((s) => s.kind === 'map')) {
      const m = bySeq.get(step.seq);
      step.items = { total: (step.output as { count: number }).count, done: m?.done ?? 0, failed: m?.failed ?? 0, errors: m?.errors ?? [] };
    }
    result.advance = advance
      ? {
          jobId: advance.id,
          status: advance.status,
          attempts: advance.attempts,
          maxAttempts: advance.max_attempts,
          runAt: advance.run_at,
          errors: advance.errors ?? [],
        }
      : null;
    return result;
  }

  /**
   * A FAILED run runs again from the step that failed (its stored steps are not run again; map
   * items that failed run again), with fresh attempts. Anything else is refused.
   */
  async retryRun(id: string): Promise<WorkflowRun | null> {
    const runId = parseJobId(id);
    const retried = await inTransaction(this.queue.pool, async (client) => {
      const [run] = await runRetry(toExecutor(client), { id: runId });
      if (run) await this.queue.enqueue(this.advanceJob({ name: run.name, maxAttempts: this.byName.get(run.name)?.maxAttempts }, runId), { tx: client });
      return run;
    });
    const run = await this.getRun(runId);
    if (!run) return null;
    if (!retried) throw new ValidationError(`Run ${runId} is ${run.status}: only a FAILED run can be retried`);
    return run;
  }

  /**
   * Cancels a running run, and with it its pending, sleeping or waiting advance and its maps'
   * items, pending or running (a running item's handler sees `ctx.signal` abort at the worker's
   * next heartbeat). A finished run is answered as it is.
   */
  async cancelRun(id: string): Promise<WorkflowRun | null> {
    const runId = parseJobId(id);
    await runCancel(this.db, { id: runId, now: nowParam(this.queue.clock) });
    for (const job of await runAndItemActiveJobs(this.db, { runId })) {
      // Finished meanwhile: fine, an advance or item of a cancelled run does nothing.
      await this.queue.cancelJob(job.id).catch((error) => (error instanceof InvalidJobStateError ? undefined : Promise.reject(error)));
    }
    return this.getRun(runId);
  }

  /**
   * Sends an event (inside your transaction with `tx`): every run waiting for it whose match the
   * payload contains resumes with the payload. Answers how many runs it resumed.
   */
  async sendEvent(event: string, payload: Record<string, unknown> = {}, options: { tx?: Queryable } = {}): Promise<{ resumed: number }> {
    if (typeof event !== 'string' || event.length < 1 || event.length > 200) throw new ValidationError('event must be 1-200 characters');
    if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) throw new ValidationError('an event payload is a JSON object');
    const db = options.tx ? toExecutor(options.tx) : this.db;
    const now = nowParam(this.queue.clock);
    const resolved = await waitResolveByEvent(db, { event, payload: JSON.stringify(payload), now });
    const runs = [...new Map(resolved.map((r) => [r.run_id, r.name])).entries()];
    if (runs.length === 0) return { resumed: 0 };
    // Each run's next job waits for the timeout: it is made due now. A run whose job is running
    // (it reached the wait a moment ago, and its follow-up is not written yet) gets one more
    // advance after it: the run's concurrency key keeps the two from running side by side.
    const active = await runActiveJobs(db, { dedupeKeys: runs.map(([id]) => dedupeKey(id)) });
    const pending = active.filter((j) => j.status === 'PENDING');
    await this.queue.runJobsNow(
      pending.map((j) => j.id),
      options,
    );
    const withoutPending = runs.filter(([id]) => !pending.some((j) => j.dedupe_key === dedupeKey(id)));
    if (withoutPending.length > 0) {
      await this.queue.enqueueMany(
        withoutPending.map(([id, name]) => this.advanceJob({ name, maxAttempts: this.byName.get(name)?.maxAttempts }, id, null, false)),
        options,
      );
    }
    return { resumed: runs.length };
  }

  private itemJob(definition: WorkflowDefinition, runId: string, seq: number, index: number) {
    return {
      jobType: workflowJobType(definition.name),
      payload: { runId, item: { seq, index } },
      dedupe: { key: `workflow:${runId}:${seq}:${index}` },
      ...(definition.maxAttempts ? { maxAttempts: definition.maxAttempts } : {}),
    };
  }

  /**
   * A map item's job: replays the run up to its map, runs this item, and stores its result (or,
   * once its attempts are spent, its error). The item that completes the map wakes the run, in the
   * same transaction that counted it.
   */
  private async runItem(definition: WorkflowDefinition, run: RunRow, replay: Replay, job: Job, item: { seq: number; index: number }): Promise<unknown> {
    // Stored already, so its body ran: a re-run advance (its worker died after the fan-out) read
    // the map just before this item was stored and made its job again once the first one had
    // completed; or this job's worker died between storing the item and completing the job. The
    // dedupe key lets a job for an item be made only once its previous job is finished, so the
    // store is seen here.
    if (await mapItemExists(this.db, { runId: run.id, seq: item.seq, idx: item.index })) return { runId: run.id, item: item.index, skipped: 'stored' };
    let done: ItemDone;
    try {
      await definition.run(replay.context, run.input as never);
      throw new NonDeterminismError(`workflow code changed under run ${run.id}: it no longer reaches the map of item ${item.index}`);
    } catch (error) {
      if (!(error instanceof ItemDone)) {
        const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        await runFinish(this.db, { id: run.id, status: 'FAILED', output: null, error: message, now: nowParam(this.queue.clock) });
        throw new NonRetryableError(message);
      }
      done = error;
    }
    const failed = done.failure !== undefined;
    if (failed && !(done.failure instanceof NonRetryableError) && job.attempts < job.maxAttempts) throw done.failure; // retried
    await inTransaction(this.queue.pool, async (client) => {
      const db = toExecutor(client);
      const now = nowParam(this.queue.clock);
      const stored = await mapItemStoreAndCount(db, {
        runId: run.id,
        seq: item.seq,
        idx: item.index,
        attempt: job.attempts,
        now,
        output: failed || done.value === undefined ? null : JSON.stringify(done.value),
        error: failed ? (done.failure instanceof Error ? done.failure.message : String(done.failure)) : null,
      });
      const count = (replay.storedStep(item.seq)?.output as { count: number }).count;
      // Not keyed to the run's one pending advance: the run's own job may still be finishing the
      // fan-out (it holds that key until it completes); the run's concurrency key orders the two.
      if (stored >= count) await this.queue.enqueue(this.advanceJob(definition, run.id, null, false), { tx: client });
    });
    return { runId: run.id, item: item.index, ...(failed ? { failed: true } : {}) };
  }

  private advanceJob(definition: Pick<WorkflowDefinition, 'name' | 'maxAttempts'>, runId: string, wakeAt: Date | null = null, keyed = true) {
    return {
      jobType: workflowJobType(definition.name),
      payload: { runId },
      // One pending advance per run (its dedupe key), and never two running at once (its concurrency key).
      ...(keyed ? { dedupe: { key: dedupeKey(runId) } } : {}),
      concurrencyKey: dedupeKey(runId),
      ...(definition.maxAttempts ? { maxAttempts: definition.maxAttempts } : {}),
      ...(wakeAt ? { scheduledFor: wakeAt } : {}),
    };
  }

  /** One advance of a run (see replay.ts), or one item of its map. */
  private async advance(job: Job, ctx: JobContext): Promise<unknown> {
    const payload = job.payload as { runId?: unknown; item?: { seq: number; index: number } } | null;
    const runId = parseJobId(payload?.runId);
    const [run] = await runWithSteps(this.db, { id: runId });
    if (!run || run.status !== 'RUNNING') return { runId, skipped: run?.status ?? 'missing' };
    const definition = this.byName.get(run.name)!;
    const steps = run.steps;
    const started = Date.now();
    const replay = new Replay({
      db: this.db,
      runId,
      steps,
      attempt: job.attempts,
      dueAt: job.runAt,
      signal: ctx.signal,
      softDeadline: started + (ctx.deadline - started) / 2,
      now: () => nowParam(this.queue.clock),
      ...(payload?.item ? { item: payload.item } : {}),
    });
    const now = () => nowParam(this.queue.clock);
    if (payload?.item) return this.runItem(definition, run, replay, job, payload.item);
    try {
      const output = await definition.run(replay.context, run.input as never);
      if (replay.suspension) throw replay.suspension; // the code caught it: the run stops here all the same
      if (replay.replayed < steps.length) {
        throw new NonDeterminismError(`workflow code changed under run ${runId}: it finished after ${replay.replayed} of its ${steps.length} stored steps`);
      }
      await runFinish(this.db, { id: runId, status: 'COMPLETED', output: output === undefined ? null : JSON.stringify(output), error: null, now: now() });
      return { runId, status: 'COMPLETED' };
    } catch (thrown) {
      const error = replay.suspension ?? thrown;
      if (error instanceof Suspension && replay.fanOut) {
        // A map not done: a job for each item not stored yet (one active per item by its dedupe
        // key, so a replay while they run makes none twice); the last to finish wakes the run.
        const { seq, missing } = replay.fanOut;
        await this.queue.enqueueMany(missing.map((index) => this.itemJob(definition, runId, seq, index)));
        await runAdvanced(this.db, { id: runId, currentStep: error.at });
        return { runId, suspendedAt: error.at, items: missing.length };
      }
      if (error instanceof Suspension) {
        ctx.enqueueOnComplete(this.advanceJob(definition, runId, error.wakeAt));
        await runAdvanced(this.db, { id: runId, currentStep: error.at });
        return { runId, suspendedAt: error.at, ...(error.wakeAt ? { until: error.wakeAt.toISOString() } : {}) };
      }
      // The step that threw is where the run stands (shown while it is retried, or where it failed).
      if (replay.running) await runAdvanced(this.db, { id: runId, currentStep: replay.running });
      const final = error instanceof NonRetryableError || error instanceof NonDeterminismError || job.attempts >= job.maxAttempts;
      if (!final) throw error; // retried with the queue's backoff; the stored steps are not run again
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      await runFinish(this.db, { id: runId, status: 'FAILED', output: null, error: message, now: now() });
      throw error instanceof NonRetryableError ? error : new NonRetryableError(message);
    }
  }
}
