/**
 * Recurring jobs: schedules stored in job_schedules, each due slot enqueued exactly once across
 * every caller by its unique key (`schedule:<name>@<slot>`).
 */
import { nowParam } from './clock.js';
import { toStoredJson } from './job-input.js';
import { scheduleAdvance, scheduleDelete, scheduleListEnabled, scheduleUpsert } from './queries/schedules.js';
import type { QueueCore } from './queue-core.js';
import { latestDueSlot, parseSchedule, slotKey, type ScheduleInput } from './schedules.js';
import type { EnqueueInput, Job } from './types.js';

export async function schedule(core: QueueCore, name: string, input: ScheduleInput): Promise<void> {
  const s = parseSchedule(name, input);
  const payload = toStoredJson(s.payload, 'payload', core.options.maxPayloadBytes);
  await scheduleUpsert(core.db, { name: s.name, cron: s.cron, timezone: s.timezone, jobType: s.jobType, payload, priority: s.priority, maxAttempts: s.maxAttempts });
}

export async function unschedule(core: QueueCore, name: string): Promise<boolean> {
  return (await scheduleDelete(core.db, { name })) > 0;
}

export async function fireDueSchedules(core: QueueCore, enqueueMany: (jobs: EnqueueInput[]) => Promise<Job[]>): Promise<Job[]> {
  const schedules = await scheduleListEnabled(core.db, { now: nowParam(core.clock) });
  const due = schedules
    .map((s) => ({ s, slot: latestDueSlot(s.cron, s.timezone, new Date(s.last_slot ?? s.created_at), new Date(s.db_now)) }))
    .filter((d): d is { s: (typeof schedules)[number]; slot: Date } => d.slot !== null);
  if (due.length === 0) {
    core.events.emit('schedules:fired', { due: [], enqueued: [] });
    return [];
  }
  const jobs = await enqueueMany(
    due.map(({ s, slot }) => ({
      jobType: s.job_type,
      payload: s.payload ?? undefined,
      priority: s.priority,
      maxAttempts: s.max_attempts,
      uniqueKey: slotKey(s.name, slot),
    })),
  );
  for (const { s, slot } of due) await scheduleAdvance(core.db, { name: s.name, slot });
  core.events.emit('schedules:fired', { due: due.map(({ s }) => s.name), enqueued: jobs.filter((job) => !job.deduplicated) });
  return jobs;
}
