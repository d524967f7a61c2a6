/**
 * Finding jobs and acting on every match (the operator's console): each statement reads a bounded
 * window of rows, newest first, and filters within it, so no search costs more than its window
 * however large the table is. A search that has not found enough in one window says where it
 * stopped (a cursor), and the caller goes on from there.
 *
 * The window is an index range read backwards:
 * - FAILED or CANCELLED jobs of one type: job_queue_unsuccessful_idx (type, status, id), so each
 *   window holds only matching dead letters;
 * - anything else: the primary key (UUIDv7, so id order is creation order), narrowed by the id
 *   prefix and the creation time range; status, type and the rest are checked on the window's rows.
 *
 * Bounds are coalesced to the ends of the uuid range rather than written `$n IS NULL OR ...`, so a
 * generic plan still reads them as index bounds.
 */
import type { SqlExecutor } from './executor.js';
import { JOB_COLUMNS, type JobRow } from './job-row.js';
import type { JobStatus } from '../core/types.js';
import { countErasedOutcomes } from './job-counts.js';
import { notifyReady } from './jobs-insert.js';

export interface FindParams {
  /** Inclusive id bounds (from an id prefix and the time range); null for none. */
  low: string | null;
  high: string | null;
  /** Exclusive upper bound: the cursor of the page before. */
  before: string | null;
  status: JobStatus | null;
  jobType: string | null;
  createdAfter: Date | null;
  createdBefore: Date | null;
  /** Case-insensitive substring of any of the job's error messages. */
  error: string | null;
  /** `payload #> path = value` (value as JSON text). */
  payloadPath: string[] | null;
  payloadValue: string | null;
}

const params = (p: FindParams) => [p.low, p.high, p.before, p.status, p.jobType, p.createdAfter, p.createdBefore, p.error, p.payloadPath, p.payloadValue];

const ID_RANGE = `id >= coalesce($1::uuid, '00000000-0000-0000-0000-000000000000')
        AND id <= coalesce($2::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff')
        AND id < coalesce($3::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff')`;

/** The window's rows: only dead letters of one type (the literal IN lets the planner take the partial index). */
const DEAD_LETTERS = `job_type = $5 AND status = $4::"JobStatus" AND status IN ('FAILED', 'CANCELLED') AND ${ID_RANGE}`;

/** Every condition of the filter, checked on a window's rows. */
const MATCHES = `($4::"JobStatus" IS NULL OR status = $4::"JobStatus")
        AND ($5::text IS NULL OR job_type = $5)
        AND ($6::timestamptz IS NULL OR created_at >= $6::timestamptz)
        AND ($7::timestamptz IS NULL OR created_at < $7::timestamptz)
        AND ($8::text IS NULL OR EXISTS (
              SELECT 1 FROM jsonb_array_elements(errors) e WHERE strpos(lower(e->>'message'), lower($8::text)) > 0))
        AND ($9::text[] IS NULL OR payload #> $9::text[] = $10::jsonb)`;

/** Which index the window reads: see the module comment. */
export type WindowKind = 'deadLetters' | 'all';

export function windowKind(p: Pick<FindParams, 'status' | 'jobType'>): WindowKind {
  return p.jobType !== null && (p.status === 'FAILED' || p.status === 'CANCELLED') ? 'deadLetters' : 'all';
}

const windowWhere = (kind: WindowKind) => (kind === 'deadLetters' ? DEAD_LETTERS : ID_RANGE);

/** Up to `limit` matches among the first `scan` rows of the window, newest first. */
export async function jobFind(db: SqlExecutor, p: FindParams & { scan: number; limit: number }): Promise<JobRow[]> {
  const kind = windowKind(p);
  return db.query<JobRow>(
    `SELECT ${JOB_COLUMNS}
       FROM (SELECT * FROM job_queue WHERE ${windowWhere(kind)} ORDER BY id DESC LIMIT $11) w
      WHERE ${MATCHES}
      ORDER BY id DESC
      LIMIT $12`,
    [...params(p), p.scan, p.limit],
    `conveyor.jobFind.${kind}`,
  );
}

/** The last id of a full window (where the next one starts), or nothing when the window reaches the end. */
export async function jobFindWindowEnd(db: SqlExecutor, p: FindParams & { scan: number }): Promise<{ id: string }[]> {
  const kind = windowKind(p);
  return db.query<{ id: string }>(
    // The unused CTE only gives every parameter its type (the statement takes the find's parameters).
    `WITH typed AS (SELECT $4::"JobStatus", $5::text, $6::timestamptz, $7::timestamptz, $8::text, $9::text[], $10::jsonb)
     SELECT id FROM job_queue WHERE ${windowWhere(kind)} ORDER BY id DESC OFFSET $11 - 1 LIMIT 1`,
    [...params(p), p.scan],
    `conveyor.jobFindWindowEnd.${kind}`,
  );
}

/** Matches among one window's rows, how many rows it read and where it ended. */
export async function jobCountWindow(db: SqlExecutor, p: FindParams & { scan: number }): Promise<{ matched: number; scanned: number; low: string | null }> {
  const kind = windowKind(p);
  const [row] = await db.query<{ matched: number; scanned: number; low: string | null }>(
    `SELECT count(*) FILTER (WHERE ${MATCHES})::int AS matched, count(*)::int AS scanned, (array_agg(id ORDER BY id))[1]::text AS low
       FROM (SELECT id, status, job_type, created_at, errors, payload FROM job_queue
              WHERE ${windowWhere(kind)} ORDER BY id DESC LIMIT $11) w`,
    [...params(p), p.scan],
    `conveyor.jobCountWindow.${kind}`,
  );
  return row!;
}

export type BulkActionName = 'retry' | 'cancel' | 'delete';

/**
 * What each action does to a matched row, guarded by the states it may leave (the same guards as
 * the single-job retry and cancel). Delete takes finished jobs only: a waiting job is cancelled
 * first, and a running one is never deleted from under its worker.
 */
const ACTIONS: Record<BulkActionName, string> = {
  retry: `UPDATE job_queue j
             SET status = 'PENDING', run_at = now(), max_attempts = greatest(j.max_attempts, j.attempts + 1),
                 completed_at = NULL, result = NULL, updated_at = now()
            FROM hit
           WHERE j.id = hit.id AND j.status IN ('FAILED', 'CANCELLED') AND j.attempts < 1000
          RETURNING j.id, j.job_type, j.run_at`,
  cancel: `UPDATE job_queue j
              SET status = 'CANCELLED', locked_until = NULL, locked_by = NULL, completed_at = now(), updated_at = now()
             FROM hit
            WHERE j.id = hit.id AND j.status IN ('PENDING', 'PROCESSING')
           RETURNING j.id, j.job_type, j.run_at`,
  delete: `DELETE FROM job_queue j USING hit
            WHERE j.id = hit.id AND j.status IN ('COMPLETED', 'FAILED', 'CANCELLED')
           RETURNING j.id, j.job_type, j.run_at`,
};

/**
 * A retry must not make two jobs with one dedupe key active: of the window's matches sharing a key,
 * only the newest is retried, and only while no job with that key is waiting or running.
 */
const RETRYABLE = `(dedupe_key IS NULL OR (nth = 1 AND NOT EXISTS (
          SELECT 1 FROM job_queue a WHERE a.dedupe_key = m.dedupe_key AND a.status IN ('PENDING', 'PROCESSING'))))`;

/**
 * One batch of a bulk action, in one statement: locks the audit row while it still stands at
 * `before` (so two requests continuing one action take turns, and the second finds the cursor
 * moved and does nothing), acts on the window's matches, moves the cursor to the window's end, and
 * counts what changed. Finished outcomes a retry or delete erases are counted in the per-minute
 * history first, when it has not counted them yet. A window shorter than `scan` reached the end: the action is finished.
 */
export async function jobBulkStep(
  db: SqlExecutor,
  p: FindParams & { scan: number; action: BulkActionName; bulkId: string },
): Promise<{ affected: number; scanned: number; finished: boolean; claimed: boolean }[]> {
  const kind = windowKind(p);
  return db.query(
    `WITH turn AS (
       SELECT id FROM job_bulk_actions
        WHERE id = $12 AND finished_at IS NULL AND cursor IS NOT DISTINCT FROM $3::uuid
        FOR UPDATE
     ), win AS (
       SELECT id, status, job_type, created_at, completed_at, errors, payload, dedupe_key FROM job_queue
        WHERE ${windowWhere(kind)} AND EXISTS (SELECT 1 FROM turn)
        ORDER BY id DESC LIMIT $11
     ), m AS (
       SELECT id, dedupe_key, row_number() OVER (PARTITION BY dedupe_key ORDER BY id DESC) AS nth FROM win WHERE ${MATCHES}
     ), hit AS (
       SELECT id FROM m WHERE ${p.action === 'retry' ? RETRYABLE : 'true'}
     ), changed AS (
       ${ACTIONS[p.action]}
     ), before_change AS (
       SELECT win.id, win.job_type, win.status, win.completed_at FROM changed JOIN win ON win.id = changed.id
     ), ${countErasedOutcomes('before_change')}, notified AS (${p.action === 'retry' ? notifyReady('changed') : 'SELECT NULL'}
     ), moved AS (
       UPDATE job_bulk_actions b
          SET affected = b.affected + (SELECT count(*) FROM changed),
              cursor = coalesce((SELECT id FROM win ORDER BY id LIMIT 1), b.cursor),
              finished_at = CASE WHEN (SELECT count(*) FROM win) < $11 THEN now() END,
              updated_at = now()
         FROM turn WHERE b.id = turn.id
       RETURNING b.finished_at
     )
     SELECT (SELECT count(*) FROM changed)::int AS affected, (SELECT count(*) FROM win)::int AS scanned,
            coalesce((SELECT finished_at IS NOT NULL FROM moved), false) AS finished,
            EXISTS (SELECT 1 FROM moved) AS claimed
       FROM notified`,
    [...params(p), p.scan, p.bulkId],
    `conveyor.jobBulkStep.${p.action}.${kind}`,
  );
}

export interface BulkActionRow {
  id: string;
  action: BulkActionName;
  filter: unknown;
  requested_by: string | null;
  matched: number | null;
  affected: number;
  cursor: string | null;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
}

const BULK_COLUMNS = 'id, action, filter, requested_by, matched, affected, cursor, created_at, updated_at, finished_at';

export async function bulkActionInsert(
  db: SqlExecutor,
  p: { action: BulkActionName; filter: string; requestedBy: string | null; matched: number | null },
): Promise<BulkActionRow> {
  const [row] = await db.query<BulkActionRow>(
    `INSERT INTO job_bulk_actions (action, filter, requested_by, matched) VALUES ($1, $2::jsonb, $3, $4) RETURNING ${BULK_COLUMNS}`,
    [p.action, p.filter, p.requestedBy, p.matched],
    'conveyor.bulkActionInsert',
  );
  return row!;
}

export async function bulkActionGet(db: SqlExecutor, p: { id: string }): Promise<BulkActionRow | undefined> {
  const [row] = await db.query<BulkActionRow>(`SELECT ${BULK_COLUMNS} FROM job_bulk_actions WHERE id = $1`, [p.id], 'conveyor.bulkActionGet');
  return row;
}

export async function bulkActionListRecent(db: SqlExecutor, p: { limit: number }): Promise<BulkActionRow[]> {
  return db.query<BulkActionRow>(`SELECT ${BULK_COLUMNS} FROM job_bulk_actions ORDER BY created_at DESC LIMIT $1`, [p.limit], 'conveyor.bulkActionListRecent');
}
