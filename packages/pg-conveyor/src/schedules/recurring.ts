/**
 * Recurring jobs: schedules stored in job_schedules, each due slot enqueued exactly once across
 * every caller by its unique key (`schedule:<name>@<slot>`).
 */
import { nowParam } from '../core/clock.js';
import { toStoredJson } from '../core/job-input.js';
import { inTransaction, toExecutor } from '../sql/executor.js';
import {
  scheduleAdvance,
  scheduleDelete,
  scheduleDeleteOthers,
  scheduleListAll,
  scheduleListEnabled,
  scheduleSetEnabled,
  scheduleUpsert,
} from '../sql/schedules.js';
import type { QueueCore } from '../core/queue-core.js';
import { latestDueSlot, nextSlot, parseSchedule, scheduleNameSchema, slotKey, type ScheduleInput } from './schedule-input.js';
import { ValidationError } from '../core/errors.js';
import type { EnqueueInput, Job } from '../core/types.js';

export async function schedule(core: QueueCore, name: string, input: ScheduleInput): Promise<void> {
  const s = parseSchedule(name, input);
  const payload = toStoredJson(s.payload, 'payload', core.options.maxPayloadBytes);
  await scheduleUpsert(core.db, {
    name: s.name,
    cron: s.cron,
    timezone: s.timezone,
    jobType: s.jobType,
    payload,
    priority: s.priority,
    maxAttempts: s.maxAttempts,
  });
}

export async function unschedule(core: QueueCore, name: string): Promise<boolean> {
  return (await scheduleDelete(core.db, { name })) > 0;
}

export interface ScheduleInfo {
  name: string;
  cron: string;
  timezone: string;
  jobType: string;
  paused: boolean;
  /** The slot fired last, and the job it made (its status; null once cleaned up). */
  lastRunAt: Date | null;
  lastJob: { id: string; status: string } | null;
  /** The next slot after now (null while paused). */
  nextRunAt: Date | null;
}

export async function listSchedules(core: QueueCore): Promise<ScheduleInfo[]> {
  const rows = await scheduleListAll(core.db, { now: nowParam(core.clock) });
  return rows.map((s) => ({
    name: s.name,
    cron: s.cron,
    timezone: s.timezone,
    jobType: s.job_type,
    paused: !s.enabled,
    lastRunAt: s.last_slot,
    lastJob: s.last_job_id ? { id: s.last_job_id, status: s.last_job_status! } : null,
    nextRunAt: s.enabled ? nextSlot(s.cron, s.timezone, new Date(s.db_now)) : null,
  }));
}

/**
 * Makes the stored schedules exactly the ones declared: each registered (unchanged ones are not
 * touched, paused ones stay paused), every other one deleted, in one transaction. Answers the
 * names removed. Call it at start-up with every schedule the app declares.
 */
export async function syncSchedules(core: QueueCore, declared: Record<string, ScheduleInput>): Promise<{ removed: string[] }> {
  const parsed = Object.entries(declared).map(([name, input]) => parseSchedule(name, input));
  const rows = parsed.map((s) => ({ s, payload: toStoredJson(s.payload, 'payload', core.options.maxPayloadBytes) }));
  return inTransaction(core.pool, async (client) => {
    const db = toExecutor(client);
    for (const { s, payload } of rows) {
      await scheduleUpsert(db, {
        name: s.name,
        cron: s.cron,
        timezone: s.timezone,
        jobType: s.jobType,
        payload,
        priority: s.priority,
        maxAttempts: s.maxAttempts,
      });
    }
    return { removed: await scheduleDeleteOthers(db, { keep: rows.map(({ s }) => s.name) }) };
  });
}

/** Pauses or resumes a schedule (a paused one fires nothing); answers false when there is none of that name. */
export async function setSchedulePaused(core: QueueCore, name: string, paused: boolean): Promise<boolean> {
  const parsed = scheduleNameSchema.safeParse(name);
  if (!parsed.success) throw ValidationError.fromZod('schedule name', parsed.error);
  return scheduleSetEnabled(core.db, { name: parsed.data, enabled: !paused });
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

/** Enqueues a schedule's job now, outside its slots (its next slots fire as usual); null when there is none of that name. */
export async function runScheduleNow(core: QueueCore, name: string, enqueue: (job: EnqueueInput) => Promise<Job>): Promise<Job | null> {
  const parsed = scheduleNameSchema.safeParse(name);
  if (!parsed.success) throw ValidationError.fromZod('schedule name', parsed.error);
  const [s] = await scheduleListAll(core.db, { now: nowParam(core.clock), name: parsed.data });
  if (!s) return null;
  return enqueue({ jobType: s.job_type, payload: s.payload ?? undefined, priority: s.priority, maxAttempts: s.max_attempts });
}
