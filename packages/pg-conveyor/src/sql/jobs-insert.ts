/**
 * The statements that create jobs: enqueue (plain, or skipping rows whose key is taken), the
 * look-up of a taken key's holder, and the NOTIFY that wakes workers.
 *
 * New rows travel as one array per column (the payloads as one JSON array) and are unnested by
 * the server: one job and ten thousand cost one round trip and one plan, and the same text works
 * inside a caller's Prisma transaction. Measured on a durable server (1,000 jobs a statement),
 * this form inserts in about half the time of the jsonb_to_recordset it replaced, which parsed
 * every payload twice. Three statements insert jobs (plain, keyed, and follow-ups on completion in
 * jobs-write.ts), each a fixed text over the same parameter layout.
 *
 * Two shortcuts pay and stay, measured with each removed in turn on the durable benchmark server
 * (20,000 jobs in statements of 1,000, best of 10 interleaved rounds, December 2026): the array
 * literals the queue writes itself (literals.ts; pg's own encoding: 84 % of the rate) and the
 * UUIDv7 writer (job-id.ts; the uuid package's v7: 76 %). Three that were measured at 95-100 %
 * went: ids as a binary uuid[], a column shared by every row sent as one value, and a column null
 * in every row sent as one NULL.
 */
import type { SqlExecutor } from './executor.js';
import type { JobRow } from './job-row.js';
import { jsonArray, plainArray, quotedArray, uuidArrayBinary } from './literals.js';

export interface NewJobRow {
  id: string;
  job_type: string;
  /** The payload already serialized (and size-checked) as JSON, or null for none. */
  payloadJson: string | null;
  priority: number;
  max_attempts: number;
  run_at: string | null;
  delay_ms: number | null;
  concurrency_key: string | null;
  dedupe_key: string | null;
  /** With dedupe_key: the key holds for fixed windows of this length instead of while active. */
  dedupe_window_ms: number | null;
  unique_key: string | null;
}

/** The LISTEN/NOTIFY channel: the payload names the job types that became ready. */
export const JOBS_CHANNEL = 'conveyor_jobs';

/** Whether any of these rows can collide with an existing job (ids are fresh UUIDv7s: never). */
export const carriesKeys = (jobs: NewJobRow[]) => jobs.some((j) => j.dedupe_key !== null || j.unique_key !== null);

/**
 * The rows as the eleven column parameters $1..$11 that NEW_JOBS reads, with three shortcuts that
 * pay on the durable bench server (20,000 jobs in statements of 1,000, side by side, December 2026:
 * these three together took a bulk enqueue from 48 % of the raw INSERT's rate back to 65 %):
 * - the busy columns go as array literals the queue writes itself and the payloads as one JSON
 *   array (literals.ts; pg's own array encoding: 84 % of the rate);
 * - an optional column null in every row, as most are, goes as one NULL (ROWS FROM pads it):
 *   arrays of nulls for the six took the rate from 57 % to 45 %;
 * - where `db` sends Buffers as binary (node-postgres, not Prisma), the ids go as a binary uuid[]
 *   the server copies instead of parsing 32 hex digits each.
 */
export function newJobParams(db: SqlExecutor, jobs: NewJobRow[]): unknown[] {
  const optional = (field: 'run_at' | 'delay_ms' | 'concurrency_key' | 'dedupe_key' | 'dedupe_window_ms' | 'unique_key') =>
    jobs.some((j) => j[field] !== null) ? jobs.map((j) => j[field]) : null;
  const ids = jobs.map((j) => j.id);
  return [
    db.binaryParams ? uuidArrayBinary(ids) : plainArray(ids),
    quotedArray(jobs.map((j) => j.job_type)),
    jsonArray(jobs.map((j) => j.payloadJson)),
    plainArray(jobs.map((j) => j.priority)),
    plainArray(jobs.map((j) => j.max_attempts)),
    optional('run_at'),
    optional('delay_ms'),
    optional('concurrency_key'),
    optional('dedupe_key'),
    optional('dedupe_window_ms'),
    optional('unique_key'),
  ];
}

/**
 * The new rows as a relation `j`, from the column parameters $1..$11 (newJobParams): ROWS FROM
 * zips the arrays and the payloads' JSON array by position. Every statement that inserts jobs
 * binds them first, then $12 (the test clock's now, or null) and $13 (the trace context).
 */
export const NEW_JOBS = `ROWS FROM (unnest($1::uuid[]), unnest($2::text[]), json_array_elements($3::json), unnest($4::int[]), unnest($5::int[]),
                 unnest($6::timestamptz[]), unnest($7::bigint[]), unnest($8::text[]), unnest($9::text[]), unnest($10::bigint[]), unnest($11::text[]))
       AS j(id, job_type, payload, priority, max_attempts, run_at, delay_ms, concurrency_key, dedupe_key, dedupe_window_ms, unique_key)`;

/** The payload as stored: a payload of JSON null is no payload (SQL NULL), so a job reads either as null. */
export const NEW_PAYLOAD = `nullif(j.payload::jsonb, 'null'::jsonb)`;

/** When a new job becomes claimable: its own run_at, else now (the test clock's, if bound) plus its delay. */
export const NEW_RUN_AT = `coalesce(j.run_at, coalesce($12::timestamptz, now()) + coalesce(j.delay_ms, 0) * interval '1 millisecond')`;

/** A windowed dedupe key becomes the unique key of its window; a plain one holds while the job is active. */
export const NEW_DEDUPE_KEY = `CASE WHEN j.dedupe_window_ms IS NULL THEN j.dedupe_key END`;
export const NEW_UNIQUE_KEY = `coalesce(j.unique_key, conveyor_window_key(j.dedupe_key, j.dedupe_window_ms, coalesce($12::timestamptz, now())))`;

/**
 * One NOTIFY per statement (never one per row), naming the types of the rows in `cte` that are
 * ready now, and none when no row is. Delivered when the transaction commits, so a job enqueued in
 * the caller's transaction wakes workers only once it exists for them.
 */
export const notifyReady = (cte: string, enabled = 'true') => `
  SELECT CASE WHEN ${enabled} AND count(*) > 0 THEN pg_notify('${JOBS_CHANNEL}', string_agg(DISTINCT job_type, ',')) END
    FROM ${cte} WHERE run_at <= now()`;

/**
 * Enqueue of rows without keys: nothing can conflict, so a plain INSERT (speculative insertion
 * costs about 30 % more per row), which reads nothing back: the answer is one row, the
 * transaction's now() (every row's created_at, and the base of its run_at); the caller knows the
 * rest. `readyTypes` ($14) are the types to NOTIFY, null for none: the caller leaves out jobs
 * delayed into the future, and leaves waking workers to a trailing NOTIFY under concurrency (wakeups.ts).
 * A column whose rows all hold one value (one job type, the default priority and attempts: most
 * bulk enqueues) goes as that value ($15..$17) instead of an array of it.
 */
export async function jobInsertMany(
  db: SqlExecutor,
  p: { jobs: NewJobRow[]; now: Date | null; readyTypes: string | null; traceContext: string | null },
): Promise<{ created_at: Date }> {
  const params = newJobParams(db, p.jobs);
  const shared = SHARED_COLUMNS.map(([position, field]) => {
    const value = sameInEvery(p.jobs, field);
    if (value !== null) params[position] = null;
    return value;
  });
  const rows = await db.query<{ created_at: Date }>(
    `WITH inserted AS (
       INSERT INTO job_queue (id, job_type, payload, priority, max_attempts, run_at, concurrency_key, trace_context)
       SELECT j.id, coalesce(j.job_type, $15::text), ${NEW_PAYLOAD}, coalesce(j.priority, $16::int), coalesce(j.max_attempts, $17::int),
              ${NEW_RUN_AT}, j.concurrency_key, $13::jsonb
         FROM ${NEW_JOBS}
     ), notified AS (
       SELECT CASE WHEN $14::text IS NOT NULL THEN pg_notify('${JOBS_CHANNEL}', $14::text) END
     )
     SELECT now() AS created_at FROM notified`,
    [...params, p.now, p.traceContext, p.readyTypes, ...shared],
    'conveyor.jobInsertMany',
  );
  return rows[0]!;
}

const SHARED_COLUMNS = [
  [1, 'job_type'],
  [3, 'priority'],
  [4, 'max_attempts'],
] as const;

/** The value every row holds in `field`, or null when they differ. */
function sameInEvery<K extends keyof NewJobRow>(jobs: NewJobRow[], field: K): NewJobRow[K] | null {
  const first = jobs[0]![field];
  return jobs.every((job) => job[field] === first) ? first : null;
}

/** What a keyed enqueue reads back for each row it inserted (skipped rows are missing). */
export interface InsertedJobRow {
  id: string;
  job_type: string;
  run_at: Date;
  created_at: Date;
  dedupe_key: string | null;
  unique_key: string | null;
}

/**
 * Enqueue of rows that carry dedupe or unique keys: a row whose key is taken is skipped (ON
 * CONFLICT DO NOTHING), not an error, and missing from the answer. `notify` ($14) leaves the
 * NOTIFY to a trailing one (wakeups.ts).
 */
export async function jobInsertManySkippingTaken(
  db: SqlExecutor,
  p: { jobs: NewJobRow[]; now: Date | null; notify: boolean; traceContext: string | null },
): Promise<InsertedJobRow[]> {
  return db.query<InsertedJobRow>(
    `WITH inserted AS (
       INSERT INTO job_queue (id, job_type, payload, priority, max_attempts, run_at, concurrency_key, dedupe_key, unique_key, trace_context)
       SELECT j.id, j.job_type, ${NEW_PAYLOAD}, j.priority, j.max_attempts, ${NEW_RUN_AT}, j.concurrency_key, ${NEW_DEDUPE_KEY}, ${NEW_UNIQUE_KEY}, $13::jsonb
         FROM ${NEW_JOBS}
       ON CONFLICT DO NOTHING
       RETURNING id, job_type, run_at, created_at, dedupe_key, unique_key
     ), notified AS (${notifyReady('inserted', '$14::boolean')})
     SELECT inserted.* FROM inserted, notified`,
    [...newJobParams(db, p.jobs), p.now, p.traceContext, p.notify],
    'conveyor.jobInsertManySkippingTaken',
  );
}

/**
 * For jobs a keyed INSERT skipped: the job that holds their dedupe or unique key now, by input
 * position (`idx`). A key whose holder finished meanwhile finds nothing.
 */
export async function jobFindKeyHolders(
  db: SqlExecutor,
  p: { jobs: (NewJobRow & { idx: number })[]; now: Date | null },
): Promise<(JobRow & { idx: number })[]> {
  return db.query<JobRow & { idx: number }>(
    `SELECT DISTINCT ON (k.idx) k.idx, q.*
       FROM unnest($1::int[], $2::text[], $3::text[], $4::bigint[]) AS k(idx, dedupe_key, unique_key, dedupe_window_ms)
       JOIN job_queue q
         ON (k.dedupe_window_ms IS NULL AND q.dedupe_key = k.dedupe_key AND q.status IN ('PENDING', 'PROCESSING'))
         OR q.unique_key = coalesce(k.unique_key, conveyor_window_key(k.dedupe_key, k.dedupe_window_ms, coalesce($5::timestamptz, now())))
      ORDER BY k.idx`,
    [p.jobs.map((j) => j.idx), p.jobs.map((j) => j.dedupe_key), p.jobs.map((j) => j.unique_key), p.jobs.map((j) => j.dedupe_window_ms), p.now],
    'conveyor.jobFindKeyHolders',
  );
}

/** A NOTIFY of its own, for jobs whose INSERT left it out (wakeups.ts). */
export async function jobNotifyReady(db: SqlExecutor, p: { types: string[] }): Promise<void> {
  await db.query(`SELECT pg_notify('${JOBS_CHANNEL}', $1)`, [p.types.join(',')], 'conveyor.jobNotifyReady');
}
