/**
 * Recurring jobs from cron expressions with time zones (croner parses and steps them).
 *
 *   await queue.schedules.register('nightly-report', { cron: '0 2 * * *', timezone: 'Europe/Berlin', jobType: 'REPORT' });
 *
 * Schedules live in the database; anything that calls `queue.schedules.fireDue()` (every worker poll,
 * every cron route) enqueues the latest due slot of each, keyed `schedule:<name>@<slot>`: a slot
 * makes exactly one job however many callers race. Missed slots (nothing ran for a while) are not
 * replayed one by one: the latest one fires, once.
 */
import { Cron } from 'croner';
import { z } from 'zod';
import { jobTypeSchema } from '../core/config.js';
import { ValidationError } from '../core/errors.js';

export const scheduleSchema = z
  .object({
    cron: z.string().min(1).max(200),
    timezone: z.string().min(1).max(100).default('UTC'),
    jobType: jobTypeSchema,
    payload: z.unknown().optional(),
    priority: z.number().int().min(-1_000_000).max(1_000_000).default(0),
    maxAttempts: z.number().int().min(1).max(1_000).default(3),
  })
  .strict();

export type ScheduleInput = z.input<typeof scheduleSchema>;

export const scheduleNameSchema = z.string().regex(/^[A-Za-z0-9_.:-]{1,100}$/, 'must be 1-100 characters of A-Z a-z 0-9 _ . : -');

/** Validates a definition, including that croner understands the expression and time zone. */
export function parseSchedule(name: unknown, input: unknown) {
  const parsedName = scheduleNameSchema.safeParse(name);
  if (!parsedName.success) throw ValidationError.fromZod('schedule name', parsedName.error);
  const parsed = scheduleSchema.safeParse(input);
  if (!parsed.success) throw ValidationError.fromZod(`schedule ${parsedName.data}`, parsed.error);
  try {
    new Cron(parsed.data.cron, { timezone: parsed.data.timezone, paused: true }).nextRun();
  } catch (error) {
    throw new ValidationError(`Invalid schedule ${parsedName.data}: ${(error as Error).message}`);
  }
  return { name: parsedName.data, ...parsed.data };
}

const MAX_LOOKBACK_MS = 24 * 3_600_000;

/** The latest slot in (after, now], or null when none is due. */
export function latestDueSlot(cron: string, timezone: string, after: Date, now: Date): Date | null {
  const job = new Cron(cron, { timezone, paused: true });
  let cursor = new Date(Math.max(after.getTime(), now.getTime() - MAX_LOOKBACK_MS));
  let latest: Date | null = null;
  for (let step = 0; step < 100_000; step++) {
    const next = job.nextRun(cursor);
    if (!next || next.getTime() > now.getTime()) break;
    latest = next;
    cursor = next;
  }
  return latest;
}

export const slotKey = (name: string, slot: Date) => `schedule:${name}@${slot.toISOString()}`;

/** The first slot after `now`, or null when the expression has none left. */
export function nextSlot(cron: string, timezone: string, now: Date): Date | null {
  return new Cron(cron, { timezone, paused: true }).nextRun(now);
}
