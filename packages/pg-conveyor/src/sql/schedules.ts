/** Recurring job schedules. */
import type { SqlExecutor } from './executor.js';

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

/**
 * Registers or updates a schedule; registering the same definition again changes nothing. Whether
 * it is paused is the operators' call (pauseSchedule): an app that registers its schedules at
 * every start does not resume one an operator paused.
 */
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
            updated_at = now()
      WHERE (job_schedules.cron, job_schedules.timezone, job_schedules.job_type, job_schedules.payload,
             job_schedules.priority, job_schedules.max_attempts)
            IS DISTINCT FROM (EXCLUDED.cron, EXCLUDED.timezone, EXCLUDED.job_type, EXCLUDED.payload,
                              EXCLUDED.priority, EXCLUDED.max_attempts)`,
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

export interface ScheduleListRow extends ScheduleRow {
  enabled: boolean;
  db_now: Date;
  /** The job the last fired slot made (by its unique key), if it is still in the table. */
  last_job_id: string | null;
  last_job_status: string | null;
}

/** Every schedule (or the one named), paused ones too, with the job its last slot made. */
export async function scheduleListAll(db: SqlExecutor, p: { now: Date | null; name?: string }): Promise<ScheduleListRow[]> {
  return db.query<ScheduleListRow>(
    `SELECT s.name, s.cron, s.timezone, s.job_type, s.payload, s.priority, s.max_attempts, s.last_slot, s.created_at, s.enabled,
            coalesce($1::timestamptz, now()) AS db_now, j.id AS last_job_id, j.status AS last_job_status
       FROM job_schedules s
       LEFT JOIN job_queue j
         ON s.last_slot IS NOT NULL
        AND j.unique_key = 'schedule:' || s.name || '@' || to_char(s.last_slot AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
      WHERE $2::text IS NULL OR s.name = $2
      ORDER BY s.name`,
    [p.now, p.name ?? null],
    'conveyor.scheduleListAll',
  );
}

/** Pauses (enabled false) or resumes a schedule; answers whether it exists. */
export async function scheduleSetEnabled(db: SqlExecutor, p: { name: string; enabled: boolean }): Promise<boolean> {
  const rows = await db.query(
    'UPDATE job_schedules SET enabled = $2, updated_at = now() WHERE name = $1 RETURNING name',
    [p.name, p.enabled],
    'conveyor.scheduleSetEnabled',
  );
  return rows.length > 0;
}

/** Deletes every schedule not named: what the code no longer declares. */
export async function scheduleDeleteOthers(db: SqlExecutor, p: { keep: string[] }): Promise<string[]> {
  const rows = await db.query<{ name: string }>(
    'DELETE FROM job_schedules WHERE name <> ALL($1::text[]) RETURNING name',
    [p.keep],
    'conveyor.scheduleDeleteOthers',
  );
  return rows.map((r) => r.name).sort();
}
