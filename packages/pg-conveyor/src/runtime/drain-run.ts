/**
 * The loop of one drain (drain.ts has its options and result): `concurrency` slots that each claim
 * a job (or a batch), run it and report, until a limit stops them all.
 *
 * A slot that finds nothing to claim does not end the drain while others still run jobs: what they
 * finish may enqueue follow-ups of these types (a workflow's next step), so it waits for one of
 * them to finish (or polls). When every slot is idle, the drain waits for the next job coming due
 * (a sleep ending, a retry's backoff, a delayed job) if that falls inside the budget, looking for
 * new work meanwhile; otherwise it stops as empty. Jobs due but not claimable (a concurrency key
 * held elsewhere, a type at its limit) are not waited for: a claim cannot tell when they free.
 *
 * With `onBacklog`, a watcher weighs the backlog about once a second and says how many
 * invocations it needs (this one included), so a cron route can start more (cronRoute's fanOut).
 */
import type { JobQueue } from '../core/queue-api.js';
import type { Job, PendingOutlook } from '../core/types.js';
import { runBatch } from './run-batch.js';
import { runJob, type JobOutcome } from './run-job.js';
import type { TaskRun } from './worker-options.js';

export interface DrainTask {
  run: TaskRun;
  /** A task's own timeout (the registry's, default as the Worker's); the plain handler form has the budget only. */
  timeoutMs: number | undefined;
}

/** What a drain with `onBacklog` is told while it runs. */
export interface BacklogReport {
  /** Jobs of its types due now and not claimed (counted up to 1,000 per type and priority). */
  due: number;
  /** Invocations this backlog needs to be done within one budget, this one included (at least 1). */
  invocationsWanted: number;
}

export interface DrainPlan {
  tasks: Map<string, DrainTask>;
  concurrency: number;
  maxJobs: number;
  maxJobsByType: Record<string, number>;
  started: number;
  deadline: number;
  graceMs: number;
  minTimeToClaimMs: number;
  leaseMs: number;
  waitForTimers: boolean;
  idlePollMs: number;
  backlogCheckMs: number;
  onBacklog: ((report: BacklogReport) => unknown) | undefined;
}

export type StopReason = 'empty' | 'maxJobs' | 'budget';

export interface DrainTally extends Record<JobOutcome, number> {
  processed: number;
  stoppedBy: StopReason;
  remaining: PendingOutlook | null;
}

/** Wakes whoever waits on it; a wait also ends after its timeout. */
class Signal {
  private readonly waiters = new Set<() => void>();

  notify(): void {
    for (const wake of [...this.waiters]) wake();
  }

  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, Math.max(0, ms));
      this.waiters.add(wake);
    });
  }
}

export class DrainRun {
  private claimed = 0;
  private readonly claimedByType = new Map<string, number>();
  /** Claims in flight that may return a job of the type (a claim asks for several types). */
  private readonly claimingByType = new Map<string, number>();
  /** Slots claiming or running a job. */
  private busy = 0;
  private stoppedBy: StopReason | 'error' | null = null;
  private readonly tally: Record<JobOutcome, number> = { completed: 0, failed: 0, released: 0, lost: 0 };
  /** A job finished (it may have enqueued follow-ups), or the drain stopped. */
  private readonly changed = new Signal();
  private readonly stopped = new Signal();
  private outlookInFlight: Promise<PendingOutlook> | null = null;

  constructor(
    private readonly queue: JobQueue,
    private readonly plan: DrainPlan,
  ) {}

  async run(): Promise<DrainTally> {
    const watcher = this.plan.onBacklog ? this.watchBacklog() : Promise.resolve();
    // Every slot finishes what it holds before the drain returns, even when one of them failed.
    const slots = await Promise.allSettled(Array.from({ length: this.plan.concurrency }, () => this.slot()));
    this.stop('maxJobs');
    await watcher;
    const failure = slots.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failure) throw failure.reason;
    // What the next invocation will find, of every type; bookkeeping, so a failed read does not fail the drain.
    const remaining = await this.queue.pendingOutlook([...this.plan.tasks.keys()]).catch(() => null);
    const processed = this.tally.completed + this.tally.failed;
    // Nothing left for the types still open, but a type's own limit held some back.
    const capped = this.stoppedBy === 'empty' && this.openTypes().length < this.plan.tasks.size;
    return { ...this.tally, processed, stoppedBy: capped ? 'maxJobs' : (this.stoppedBy as StopReason), remaining };
  }

  private stop(reason: StopReason | 'error'): void {
    if (this.stoppedBy !== null) return;
    this.stoppedBy = reason;
    this.changed.notify();
    this.stopped.notify();
  }

  private timeLeft(): number {
    return this.plan.deadline - Date.now();
  }

  /** The drain's types that have not reached their own maxJobsByType, counting the claims in flight. */
  private openTypes(): string[] {
    const held = (type: string) => (this.claimedByType.get(type) ?? 0) + (this.claimingByType.get(type) ?? 0);
    return [...this.plan.tasks.keys()].filter((type) => held(type) < (this.plan.maxJobsByType[type] ?? Number.POSITIVE_INFINITY));
  }

  /** Claims one job of `types`, counted against each type's maxJobsByType while in flight. */
  private async claimOne(types: string[]): Promise<Job | null> {
    const capped = types.filter((type) => type in this.plan.maxJobsByType);
    for (const type of capped) this.claimingByType.set(type, (this.claimingByType.get(type) ?? 0) + 1);
    try {
      const job = await this.queue.claimJob(types, { leaseMs: this.plan.leaseMs });
      if (job) this.claimedByType.set(job.jobType, (this.claimedByType.get(job.jobType) ?? 0) + 1);
      return job;
    } finally {
      for (const type of capped) this.claimingByType.set(type, this.claimingByType.get(type)! - 1);
    }
  }

  private async slot(): Promise<void> {
    while (this.stoppedBy === null) {
      if (this.claimed >= this.plan.maxJobs) return this.stop('maxJobs');
      if (this.timeLeft() < this.plan.minTimeToClaimMs) return this.stop('budget');
      const types = this.openTypes();
      if (types.length === 0) return this.stop('maxJobs');
      this.claimed++;
      this.busy++;
      let job: Job | null;
      try {
        job = await this.claimOne(types);
      } catch (error) {
        this.claimed--;
        this.busy--;
        this.stop('error');
        throw error;
      }
      if (!job) {
        this.claimed--;
        this.busy--;
        if (!(await this.awaitWork())) return this.stop('empty');
        continue;
      }
      try {
        await this.runClaimed(job);
      } catch (error) {
        this.stop('error');
        throw error;
      } finally {
        this.busy--;
        this.changed.notify();
      }
      if (this.timeLeft() <= 0) return this.stop('budget');
    }
  }

  private async runClaimed(job: Job): Promise<void> {
    const task = this.plan.tasks.get(job.jobType)!;
    const options = { deadline: this.plan.deadline, graceMs: this.plan.graceMs, timeoutMs: task.timeoutMs };
    if ('batchHandler' in task.run) {
      // The rest of a batch: more of the same type, claimed in one statement.
      const typeLeft = (this.plan.maxJobsByType[job.jobType] ?? Number.POSITIVE_INFINITY) - this.claimedByType.get(job.jobType)!;
      const more = Math.min(task.run.batchSize - 1, this.plan.maxJobs - this.claimed, typeLeft);
      const rest = more > 0 ? await this.queue.claimJobs([job.jobType], more, { leaseMs: this.plan.leaseMs }) : [];
      this.claimed += rest.length;
      this.claimedByType.set(job.jobType, this.claimedByType.get(job.jobType)! + rest.length);
      const outcomes = await runBatch(this.queue, [job, ...rest], task.run.batchHandler, options);
      for (const key of ['completed', 'failed', 'released', 'lost'] as const) this.tally[key] += outcomes[key];
    } else {
      this.tally[await runJob(this.queue, job, task.run.handler, options)] += 1;
    }
  }

  /** Nothing to claim now: waits for what may bring work, and answers whether to look again. */
  private async awaitWork(): Promise<boolean> {
    const usable = this.timeLeft() - this.plan.minTimeToClaimMs;
    if (usable <= 0) return false;
    if (this.busy > 0) {
      // Jobs still running may enqueue follow-ups of these types as they finish.
      await this.changed.wait(Math.min(this.plan.idlePollMs, usable));
      return this.stoppedBy === null;
    }
    if (!this.plan.waitForTimers) return false;
    const { nextInMs } = await this.outlook();
    if (nextInMs === null || nextInMs > usable) return false;
    await this.changed.wait(Math.min(nextInMs, this.plan.idlePollMs));
    return this.stoppedBy === null;
  }

  /** One outlook read at a time, shared by the slots and the watcher that ask meanwhile. */
  private outlook(): Promise<PendingOutlook> {
    return (this.outlookInFlight ??= this.queue.pendingOutlook(this.openTypes()).finally(() => (this.outlookInFlight = null)));
  }

  private async watchBacklog(): Promise<void> {
    for (let first = true; this.stoppedBy === null; first = false) {
      if (!first) await this.stopped.wait(this.plan.backlogCheckMs);
      if (this.stoppedBy !== null) return;
      try {
        const { due } = await this.outlook();
        if (due > 0 && this.stoppedBy === null) await this.plan.onBacklog!({ due, invocationsWanted: this.invocationsWanted(due) });
      } catch (error) {
        // Scaling out is an optimisation: a failed check leaves this drain running as it is.
        this.queue.logger.warn({ err: error }, 'drain: could not weigh the backlog');
      }
    }
  }

  /**
   * Invocations that would finish `due` jobs in the time this one has left, at the pace it has
   * had so far. Before its first job finishes the pace is unknown: one more when more is due than
   * it can start at once (each new invocation weighs again, so the count grows while work does).
   */
  private invocationsWanted(due: number): number {
    const elapsed = Date.now() - this.plan.started;
    const done = this.tally.completed + this.tally.failed;
    if (done === 0 || elapsed <= 0) return due > this.plan.concurrency ? 2 : 1;
    const canStillFinish = (done / elapsed) * Math.max(0, this.timeLeft());
    return Math.max(1, Math.min(due, Math.ceil(due / Math.max(1, canStillFinish))));
  }
}
