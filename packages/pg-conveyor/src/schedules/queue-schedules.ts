/**
 * QueueSchedules: recurring jobs, reached as `queue.schedules`. A schedule enqueues one job per
 * cron slot, exactly once across every worker, drain and cron tick (recurring.ts).
 *
 *   await queue.schedules.register('nightly-report', { cron: '0 3 * * *', timezone: 'Europe/Paris', jobType: 'REPORT' });
 *   await queue.schedules.sync({ 'nightly-report': { cron: '0 3 * * *', jobType: 'REPORT' } }); // at start-up
 */
import type { QueueCore } from '../core/queue-core.js';
import type { EnqueueInput, Job } from '../core/types.js';
import * as recurring from './recurring.js';
import type { ScheduleInfo } from './recurring.js';
import type { ScheduleInput } from './schedule-input.js';

export class QueueSchedules {
  constructor(
    private readonly core: QueueCore,
    private readonly enqueueMany: (jobs: EnqueueInput[]) => Promise<Job[]>,
  ) {}

  /** Registers (or updates) a recurring job; registering the same definition again is a no-op. */
  register(name: string, input: ScheduleInput): Promise<void> {
    return recurring.schedule(this.core, name, input);
  }

  /** Removes a recurring job; true if it existed. */
  remove(name: string): Promise<boolean> {
    return recurring.unschedule(this.core, name);
  }

  /** Every schedule: cron, time zone, paused or not, the last slot fired and its job's status, the next slot. */
  list(): Promise<ScheduleInfo[]> {
    return recurring.listSchedules(this.core);
  }

  /**
   * The stored schedules become exactly `declared` (by name): each registered, every other one
   * deleted, in one transaction. Call it at start-up, so a schedule removed from the code stops.
   */
  sync(declared: Record<string, ScheduleInput>): Promise<{ removed: string[] }> {
    return recurring.syncSchedules(this.core, declared);
  }

  /** A paused schedule fires nothing until resumed; registering it again does not resume it. */
  pause(name: string): Promise<boolean> {
    return recurring.setSchedulePaused(this.core, name, true);
  }

  resume(name: string): Promise<boolean> {
    return recurring.setSchedulePaused(this.core, name, false);
  }

  /** Enqueues a schedule's job now (its slots fire as usual); null when there is no such schedule. */
  async runNow(name: string): Promise<Job | null> {
    return recurring.runScheduleNow(this.core, name, async (job) => (await this.enqueueMany([job]))[0]!);
  }

  /**
   * Enqueues the latest due slot of every schedule, exactly once per slot across all callers
   * (unique key per slot). Workers call it on each poll; cron routes on each invocation.
   */
  fireDue(): Promise<Job[]> {
    return recurring.fireDueSchedules(this.core, this.enqueueMany);
  }
}
