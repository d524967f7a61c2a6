/** Recurring job schedules. */
import type { SqlExecutor } from '../executor.js';

export interface ScheduleRow {
  name: string;
  cron: string;
  timezone: string;
  job_type: string;
  payload: unknown;
  priority: number;
  max_attempts: number;
  last_slot: Date | null;
  created_at: Date;
}

/** Registers or updates a schedule; registering the same definition again changes nothing. */
export async function scheduleUpsert(
  db: SqlExecutor,
  p: { name: string; cron: string; timezone: string; jobType: string; payload: string | null; priority: number; maxAttempts: number },
): Promise<void> {
  await db.query(
    `INSERT INTO job_schedules (name, cron, timezone, job_type, payload, priority, max_attempts)
     VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)
     ON CONFLICT (name) DO UPDATE
        SET cron = EXCLUDED.cron, timezone = EXCLUDED.timezone, job_type = EXCLUDED.job_type,
            payload = EXCLUDED.payload, priority = EXCLUDED.priority, max_attempts = EXCLUDED.max_attempts,
            enabled = true, updated_at = now()
      WHERE (job_schedules.cron, job_schedules.timezone, job_schedules.job_type, job_schedules.payload,
             job_schedules.priority, job_schedules.max_attempts, job_schedules.enabled)
            IS DISTINCT FROM (EXCLUDED.cron, EXCLUDED.timezone, EXCLUDED.job_type, EXCLUDED.payload,
                              EXCLUDED.priority, EXCLUDED.max_attempts, true)`,
    [p.name, p.cron, p.timezone, p.jobType, p.payload, p.priority, p.maxAttempts],
    'conveyor.scheduleUpsert',
  );
}

export async function scheduleDelete(db: SqlExecutor, p: { name: string }): Promise<number> {
  const rows = await db.query<{ name: string }>('DELETE FROM job_schedules WHERE name = $1 RETURNING name', [p.name], 'conveyor.scheduleDelete');
  return rows.length;
}

/** Enabled schedules and the database's time, read together. */
export async function scheduleListEnabled(db: SqlExecutor, p: { now: Date | null }): Promise<(ScheduleRow & { db_now: Date })[]> {
  return db.query<ScheduleRow & { db_now: Date }>(
    `SELECT name, cron, timezone, job_type, payload, priority, max_attempts, last_slot, created_at,
            coalesce($1::timestamptz, now()) AS db_now
       FROM job_schedules WHERE enabled`,
    [p.now],
    'conveyor.scheduleListEnabled',
  );
}

/** Moves last_slot forward only: a slower firer never moves it back. */
export async function scheduleAdvance(db: SqlExecutor, p: { name: string; slot: Date }): Promise<void> {
  await db.query(
    `UPDATE job_schedules SET last_slot = $2 WHERE name = $1 AND (last_slot IS NULL OR last_slot < $2)`,
    [p.name, p.slot],
    'conveyor.scheduleAdvance',
  );
}
