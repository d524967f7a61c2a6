/**
 * The statements that create jobs: enqueue (plain, or skipping rows whose key is taken), the
 * look-up of a taken key's holder, and the NOTIFY that wakes workers.
 *
 * New rows travel as one array per column (the payloads as one JSON array) and are unnested by
 * the server: one job and ten thousand cost one round trip and one plan, and the same text works
 * inside a caller's Prisma transaction. Measured on a durable server (1,000 jobs a statement),
 * this form inserts in about half the time of the jsonb_to_recordset it replaced, which parsed
 * every payload twice.
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
 * The rows as the column parameters NEW_JOBS reads, in its order (the first 8 for a plain insert):
 * the busy columns as literals the queue writes itself (literals.ts), the payloads as one JSON
 * array, the ids in binary where `db` sends Buffers so. A column that is null in every row is sent
 * as one NULL instead (ROWS FROM pads it with nulls): most enqueues set none of the optional columns.
 */
export function newJobColumns(
  db: SqlExecutor,
  jobs: NewJobRow[],
  { count = 11, omit = [] }: { count?: 8 | 11; omit?: readonly number[] } = {},
): (string | Buffer | unknown[] | null)[] {
  const all = (field: keyof NewJobRow) => {
    const values = jobs.map((j) => j[field]);
    return values.every((value) => value === null) ? null : values;
  };
  const payloads = all('payloadJson') as (string | null)[] | null;
  const columns = [
    () => (db.binaryParams ? uuidArrayBinary : plainArray)(jobs.map((j) => j.id)),
    () => quotedArray(jobs.map((j) => j.job_type)),
    () => (payloads === null ? null : jsonArray(payloads)),
    () => plainArray(jobs.map((j) => j.priority)),
    () => plainArray(jobs.map((j) => j.max_attempts)),
    ...(['run_at', 'delay_ms', 'concurrency_key', 'dedupe_key', 'dedupe_window_ms', 'unique_key'] as const).map((field) => () => all(field)),
  ];
  return columns.slice(0, count).map((column, position) => (omit.includes(position) ? null : column()));
}

/**
 * The new rows as a relation `j`, from the first `count` of the 11 column parameters bound at
 * $n .. $n+10 (newJobColumns). ROWS FROM zips the arrays and the payloads' JSON array by position.
 * A payload of JSON null is stored as no payload (SQL NULL): a job reads either as null.
 */
const NEW_JOBS = (n: number, count: 8 | 11 = 11) => {
  const sources = [
    `unnest($${n}::uuid[])`,
    `unnest($${n + 1}::text[])`,
    `json_array_elements($${n + 2}::json)`,
    `unnest($${n + 3}::int[])`,
    `unnest($${n + 4}::int[])`,
    `unnest($${n + 5}::timestamptz[])`,
    `unnest($${n + 6}::bigint[])`,
    `unnest($${n + 7}::text[])`,
    `unnest($${n + 8}::text[])`,
    `unnest($${n + 9}::bigint[])`,
    `unnest($${n + 10}::text[])`,
  ];
  const names = [
    'id',
    'job_type',
    'payload',
    'priority',
    'max_attempts',
    'run_at',
    'delay_ms',
    'concurrency_key',
    'dedupe_key',
    'dedupe_window_ms',
    'unique_key',
  ];
  return `ROWS FROM (${sources.slice(0, count).join(', ')}) AS j(${names.slice(0, count).join(', ')})`;
};

/** The payload as stored: JSON null is no payload. */
const PAYLOAD = `nullif(j.payload::jsonb, 'null'::jsonb)`;

/** When a new job becomes claimable: its own run_at, else now (the test clock's, if bound) plus its delay. */
const RUN_AT = (nowParam: string) => `coalesce(j.run_at, coalesce(${nowParam}::timestamptz, now()) + coalesce(j.delay_ms, 0) * interval '1 millisecond')`;

/**
 * INSERT of rows that carry dedupe or unique keys: a row whose key is taken is skipped (ON
 * CONFLICT DO NOTHING), not an error. A windowed dedupe key becomes the unique key of its window.
 * Shared by enqueue and by completion with follow-ups (which adds its `where`).
 */
export const insertKeyedJobs = (firstParam: number, nowParam: string, traceParam: string, where = '', parentParam?: string) => `
  INSERT INTO job_queue (id, job_type, payload, priority, max_attempts, run_at, concurrency_key, dedupe_key, unique_key, trace_context${parentParam ? ', parent_id' : ''})
  SELECT j.id, j.job_type, ${PAYLOAD}, j.priority, j.max_attempts, ${RUN_AT(nowParam)}, j.concurrency_key,
         CASE WHEN j.dedupe_window_ms IS NULL THEN j.dedupe_key END,
         coalesce(j.unique_key, conveyor_window_key(j.dedupe_key, j.dedupe_window_ms, coalesce(${nowParam}::timestamptz, now()))),
         ${traceParam}::jsonb${parentParam ? `, ${parentParam}::uuid` : ''}
    FROM ${NEW_JOBS(firstParam)}
  ${where}
  ON CONFLICT DO NOTHING`;

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
 * rest. `readyTypes` are the types to NOTIFY, null for none: the caller leaves out jobs delayed
 * into the future, and leaves waking workers to a trailing NOTIFY under concurrency (wakeups.ts).
 */
export async function jobInsertMany(
  db: SqlExecutor,
  p: { jobs: NewJobRow[]; now: Date | null; readyTypes: string | null; traceContext: string | null },
): Promise<{ created_at: Date }> {
  // A column whose rows all hold one value (one job type, the default priority and attempts: most
  // bulk enqueues) travels as that value instead of an array of it: about 3 % of a 1,000-job
  // enqueue on the durable benchmark, the array's literal built here and parsed there.
  const shared = (
    [
      [1, 'job_type'],
      [3, 'priority'],
      [4, 'max_attempts'],
    ] as const
  ).map(([position, field]) => ({ position, value: sameInEvery(p.jobs, field) }));
  const columns = newJobColumns(db, p.jobs, { count: 8, omit: shared.filter((c) => c.value !== null).map((c) => c.position) });
  const rows = await db.query<{ created_at: Date }>(
    `WITH inserted AS (
       INSERT INTO job_queue (id, job_type, payload, priority, max_attempts, run_at, concurrency_key, trace_context)
       SELECT j.id, coalesce(j.job_type, $12::text), ${PAYLOAD}, coalesce(j.priority, $13::int), coalesce(j.max_attempts, $14::int),
              ${RUN_AT('$9')}, j.concurrency_key, $11::jsonb
         FROM ${NEW_JOBS(1, 8)}
     ), notified AS (
       SELECT CASE WHEN $10::text IS NOT NULL THEN pg_notify('${JOBS_CHANNEL}', $10::text) END
     )
     SELECT now() AS created_at FROM notified`,
    [...columns, p.now, p.readyTypes, p.traceContext, ...shared.map((c) => c.value)],
    'conveyor.jobInsertMany',
  );
  return rows[0]!;
}

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

export async function jobInsertManySkippingTaken(
  db: SqlExecutor,
  p: { jobs: NewJobRow[]; now: Date | null; notify: boolean; traceContext: string | null },
): Promise<InsertedJobRow[]> {
  return db.query<InsertedJobRow>(
    `WITH inserted AS (${insertKeyedJobs(1, '$12', '$14')} RETURNING id, job_type, run_at, created_at, dedupe_key, unique_key),
          notified AS (${notifyReady('inserted', '$13::boolean')})
     SELECT inserted.* FROM inserted, notified`,
    [...newJobColumns(db, p.jobs), p.now, p.notify, p.traceContext],
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
