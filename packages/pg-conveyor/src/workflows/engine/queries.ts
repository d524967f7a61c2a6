/**
 * The workflow tables' statements. A run's state changes are guarded by its status, like a job's;
 * a step is written once (the first writer wins, and a second execution reads the winner back),
 * so two executions of one step (a zombie and its replacement) agree on its output.
 */
import type { SqlExecutor } from '../../sql/executor.js';

export interface RunRow {
  id: string;
  name: string;
  status: 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';
  input: unknown;
  output: unknown;
  error: string | null;
  idempotency_key: string | null;
  current_step: string | null;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
}

export interface StepRow {
  seq: number;
  name: string;
  kind: 'step' | 'sleep' | 'wait' | 'map';
  /** A step's result; a map's { count }. */
  output: unknown;
  /** A sleep's end, or a wait's timeout. */
  wake_at: Date | null;
  attempt: number;
  /** When it was stored (a wait: when the run began waiting). */
  completed_at: Date;
  /** A wait's event and the fields it must contain. */
  event: string | null;
  match: unknown;
  /** A wait: when the event (output = its payload) or the timeout (output null) resolved it; null while waiting. */
  resolved_at: Date | null;
  /** A step: how long its body ran, in ms. */
  duration_ms: number | null;
}

const STEP_COLUMNS = 'seq, name, kind, output, wake_at, attempt, completed_at, event, match, resolved_at, duration_ms';

const RUN_COLUMNS = 'id, name, status, input, output, error, idempotency_key, current_step, created_at, updated_at, completed_at';

/** A new run, or none when (name, idempotency key) is taken: the caller then reads the holder. */
export async function runInsert(
  db: SqlExecutor,
  p: { name: string; input: string | null; idempotencyKey: string | null; now: Date | null },
): Promise<RunRow[]> {
  return db.query<RunRow>(
    `INSERT INTO workflow_runs (name, input, idempotency_key, created_at, updated_at)
     VALUES ($1, $2::jsonb, $3, coalesce($4::timestamptz, now()), coalesce($4::timestamptz, now()))
     ON CONFLICT (name, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
     RETURNING ${RUN_COLUMNS}`,
    [p.name, p.input, p.idempotencyKey, p.now],
    'conveyor.workflowRunInsert',
  );
}

export async function runFindByKey(db: SqlExecutor, p: { name: string; idempotencyKey: string }): Promise<RunRow[]> {
  return db.query<RunRow>(
    `SELECT ${RUN_COLUMNS} FROM workflow_runs WHERE name = $1 AND idempotency_key = $2`,
    [p.name, p.idempotencyKey],
    'conveyor.workflowRunFindByKey',
  );
}

/** The newest runs, optionally of one status and workflow, by the created_at index. */
export async function runList(db: SqlExecutor, p: { status: string | null; name: string | null; limit: number }): Promise<RunRow[]> {
  return db.query<RunRow>(
    `SELECT ${RUN_COLUMNS} FROM workflow_runs
      WHERE ($1::"WorkflowRunStatus" IS NULL OR status = $1::"WorkflowRunStatus") AND ($2::text IS NULL OR name = $2)
      ORDER BY created_at DESC LIMIT $3`,
    [p.status, p.name, p.limit],
    'conveyor.workflowRunList',
  );
}

export async function runGet(db: SqlExecutor, p: { id: string }): Promise<RunRow[]> {
  return db.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM workflow_runs WHERE id = $1`, [p.id], 'conveyor.workflowRunGet');
}

/**
 * A run with its stored steps, in one round trip (an advance reads both first thing). The steps
 * come as JSON: their times are ISO texts here, which the replay reads with new Date().
 */
export async function runWithSteps(db: SqlExecutor, p: { id: string }): Promise<(RunRow & { steps: StepRow[] })[]> {
  return db.query<RunRow & { steps: StepRow[] }>(
    `SELECT ${RUN_COLUMNS},
            coalesce((SELECT json_agg(json_build_object(
                        'seq', s.seq, 'name', s.name, 'kind', s.kind, 'output', s.output, 'wake_at', s.wake_at,
                        'attempt', s.attempt, 'completed_at', s.completed_at, 'event', s.event, 'match', s.match,
                        'resolved_at', s.resolved_at, 'duration_ms', s.duration_ms) ORDER BY s.seq)
                        FROM workflow_steps s WHERE s.run_id = r.id), '[]'::json) AS steps
       FROM workflow_runs r WHERE r.id = $1`,
    [p.id],
    'conveyor.workflowRunWithSteps',
  );
}

export async function stepsOf(db: SqlExecutor, p: { runId: string }): Promise<StepRow[]> {
  return db.query<StepRow>(`SELECT ${STEP_COLUMNS} FROM workflow_steps WHERE run_id = $1 ORDER BY seq`, [p.runId], 'conveyor.workflowStepsOf');
}

/**
 * Stores a finished step (a sleep with its end computed here, by the database's or the test
 * clock's time) unless one is stored at that position already, and answers the stored one.
 */
export async function stepStore(
  db: SqlExecutor,
  p: {
    runId: string;
    seq: number;
    name: string;
    kind: StepRow['kind'];
    output: string | null;
    sleepMs: number | null;
    wakeAt: Date | null;
    attempt: number;
    now: Date | null;
    event?: string;
    match?: string | null;
    durationMs?: number;
  },
): Promise<StepRow> {
  const rows = await db.query<StepRow>(
    `WITH stored AS (
       INSERT INTO workflow_steps (run_id, seq, name, kind, output, wake_at, attempt, completed_at, event, match, duration_ms)
       VALUES ($1, $2, $3, $4, $5::jsonb,
               coalesce($7::timestamptz, coalesce($9::timestamptz, now()) + $6::bigint * interval '1 millisecond'),
               $8, coalesce($9::timestamptz, now()), $10, $11::jsonb, $12)
       ON CONFLICT (run_id, seq) DO NOTHING
       RETURNING ${STEP_COLUMNS}
     )
     SELECT * FROM stored
     UNION ALL
     SELECT ${STEP_COLUMNS} FROM workflow_steps
      WHERE run_id = $1 AND seq = $2 AND NOT EXISTS (SELECT 1 FROM stored)`,
    [p.runId, p.seq, p.name, p.kind, p.output, p.sleepMs, p.wakeAt, p.attempt, p.now, p.event ?? null, p.match ?? null, p.durationMs ?? null],
    'conveyor.workflowStepStore',
  );
  return rows[0]!;
}

/** Where a running run waits: the step it will run (or sleep it is in) next. */
export async function runAdvanced(db: SqlExecutor, p: { id: string; currentStep: string | null }): Promise<void> {
  await db.query(
    `UPDATE workflow_runs SET current_step = $2, updated_at = now() WHERE id = $1 AND status = 'RUNNING'`,
    [p.id, p.currentStep],
    'conveyor.workflowRunAdvanced',
  );
}

/** RUNNING -> COMPLETED (no current step any more) or FAILED (the current step is the one that failed), with the output or the error. */
export async function runFinish(
  db: SqlExecutor,
  p: { id: string; status: 'COMPLETED' | 'FAILED'; output: string | null; error: string | null; now: Date | null },
): Promise<RunRow[]> {
  return db.query<RunRow>(
    `UPDATE workflow_runs
        SET status = $2::"WorkflowRunStatus", output = $3::jsonb, error = $4,
            current_step = CASE WHEN $2::"WorkflowRunStatus" = 'COMPLETED' THEN NULL ELSE current_step END,
            completed_at = coalesce($5::timestamptz, now()), updated_at = now()
      WHERE id = $1 AND status = 'RUNNING'
     RETURNING ${RUN_COLUMNS}`,
    [p.id, p.status, p.output, p.error, p.now],
    'conveyor.workflowRunFinish',
  );
}

/**
 * Resolves the waits of running runs for this event whose match the payload contains (each wait
 * once: the first of an event and its timeout wins). Answers the runs resumed.
 */
export async function waitResolveByEvent(
  db: SqlExecutor,
  p: { event: string; payload: string; now: Date | null },
): Promise<{ run_id: string; name: string }[]> {
  return db.query<{ run_id: string; name: string }>(
    `UPDATE workflow_steps s
        SET output = $2::jsonb, resolved_at = coalesce($3::timestamptz, now())
       FROM workflow_runs r
      WHERE s.kind = 'wait' AND s.event = $1 AND s.resolved_at IS NULL
        AND (s.match IS NULL OR $2::jsonb @> s.match)
        AND r.id = s.run_id AND r.status = 'RUNNING'
     RETURNING s.run_id, r.name`,
    [p.event, p.payload, p.now],
    'conveyor.workflowWaitResolveByEvent',
  );
}

/** A wait that reached its timeout unresolved: resolved with no output. Answers the wait as stored after. */
export async function waitTimeOut(db: SqlExecutor, p: { runId: string; seq: number; now: Date | null }): Promise<StepRow> {
  const rows = await db.query<StepRow>(
    `WITH timed_out AS (
       UPDATE workflow_steps SET resolved_at = coalesce($3::timestamptz, now())
        WHERE run_id = $1 AND seq = $2 AND resolved_at IS NULL
       RETURNING ${STEP_COLUMNS}
     )
     SELECT * FROM timed_out
     UNION ALL
     SELECT ${STEP_COLUMNS} FROM workflow_steps WHERE run_id = $1 AND seq = $2 AND NOT EXISTS (SELECT 1 FROM timed_out)`,
    [p.runId, p.seq, p.now],
    'conveyor.workflowWaitTimeOut',
  );
  return rows[0]!;
}

export interface MapItemRow {
  idx: number;
  output: unknown;
  error: string | null;
}

export async function mapItemsOf(db: SqlExecutor, p: { runId: string; seq: number }): Promise<MapItemRow[]> {
  return db.query<MapItemRow>(
    'SELECT idx, output, error FROM workflow_map_items WHERE run_id = $1 AND seq = $2 ORDER BY idx',
    [p.runId, p.seq],
    'conveyor.workflowMapItemsOf',
  );
}

/** Whether a map item's result (or final error) is stored. */
export async function mapItemExists(db: SqlExecutor, p: { runId: string; seq: number; idx: number }): Promise<boolean> {
  const rows = await db.query(
    'SELECT 1 FROM workflow_map_items WHERE run_id = $1 AND seq = $2 AND idx = $3',
    [p.runId, p.seq, p.idx],
    'conveyor.workflowMapItemExists',
  );
  return rows.length > 0;
}

/**
 * Inside a transaction: stores a map item's result (or final error) once, and answers how many of
 * the map's items are stored. The map's step row is locked first (FOR NO KEY UPDATE, which the
 * item's foreign key check does not conflict with), so finishing items take turns, and the count
 * runs in a statement of its own whose snapshot sees what the previous lock holders committed:
 * exactly one of them counts them all.
 */
export async function mapItemStoreAndCount(
  db: SqlExecutor,
  p: { runId: string; seq: number; idx: number; output: string | null; error: string | null; attempt: number; now: Date | null },
): Promise<number> {
  await db.query('SELECT 1 FROM workflow_steps WHERE run_id = $1 AND seq = $2 FOR NO KEY UPDATE', [p.runId, p.seq], 'conveyor.workflowMapLock');
  await db.query(
    `INSERT INTO workflow_map_items (run_id, seq, idx, output, error, attempt, completed_at)
     VALUES ($1, $2, $3, $4::jsonb, $5, $6, coalesce($7::timestamptz, now()))
     ON CONFLICT DO NOTHING`,
    [p.runId, p.seq, p.idx, p.output, p.error, p.attempt, p.now],
    'conveyor.workflowMapItemStore',
  );
  const [row] = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM workflow_map_items WHERE run_id = $1 AND seq = $2',
    [p.runId, p.seq],
    'conveyor.workflowMapCount',
  );
  return row!.n;
}

/**
 * FAILED -> RUNNING, from where it failed: the error cleared, and the map items that failed for
 * good forgotten (so the map runs them again). The stored steps stay: the replay skips them.
 */
export async function runRetry(db: SqlExecutor, p: { id: string }): Promise<RunRow[]> {
  return db.query<RunRow>(
    `WITH retried AS (
       UPDATE workflow_runs SET status = 'RUNNING', error = NULL, completed_at = NULL, updated_at = now()
        WHERE id = $1 AND status = 'FAILED'
       RETURNING ${RUN_COLUMNS}
     ), forgotten AS (
       DELETE FROM workflow_map_items WHERE run_id = $1 AND error IS NOT NULL AND EXISTS (SELECT 1 FROM retried)
     )
     SELECT * FROM retried`,
    [p.id],
    'conveyor.workflowRunRetry',
  );
}

/** RUNNING -> CANCELLED (the caller then cancels the run's active advancing job through the queue). */
export async function runCancel(db: SqlExecutor, p: { id: string; now: Date | null }): Promise<RunRow[]> {
  return db.query<RunRow>(
    `UPDATE workflow_runs
        SET status = 'CANCELLED', completed_at = coalesce($2::timestamptz, now()), updated_at = now()
      WHERE id = $1 AND status = 'RUNNING'
     RETURNING ${RUN_COLUMNS}`,
    [p.id, p.now],
    'conveyor.workflowRunCancel',
  );
}

/**
 * A run's active jobs: its advancing job and the jobs of its maps' items (found by their dedupe
 * keys, computed from each map's stored count, so the dedupe index answers; never a scan).
 */
export async function runAndItemActiveJobs(db: SqlExecutor, p: { runId: string }): Promise<{ id: string; status: string }[]> {
  return db.query<{ id: string; status: string }>(
    `WITH keys AS (
       SELECT 'workflow:' || $1::text AS key
       UNION ALL
       SELECT 'workflow:' || $1::text || ':' || s.seq || ':' || i
         FROM workflow_steps s, generate_series(0, (s.output ->> 'count')::int - 1) AS i
        WHERE s.run_id = $1::uuid AND s.kind = 'map'
     )
     SELECT id, status FROM job_queue
      WHERE dedupe_key IN (SELECT key FROM keys) AND status IN ('PENDING', 'PROCESSING')`,
    [p.runId],
    'conveyor.workflowRunAndItemActiveJobs',
  );
}

/** The runs' active advancing jobs (one per run: they share a dedupe key), by the queue's dedupe index. */
export async function runActiveJobs(db: SqlExecutor, p: { dedupeKeys: string[] }): Promise<{ id: string; status: string; dedupe_key: string }[]> {
  return db.query<{ id: string; status: string; dedupe_key: string }>(
    `SELECT id, status, dedupe_key FROM job_queue WHERE dedupe_key = ANY($1::text[]) AND status IN ('PENDING', 'PROCESSING')`,
    [p.dedupeKeys],
    'conveyor.workflowRunActiveJob',
  );
}

export interface MapSummaryRow {
  seq: number;
  done: number;
  failed: number;
  /** The first failed items (index and error), at most 5. */
  errors: { index: number; error: string }[] | null;
}

/** Per map of a run: how many items are stored and failed, and the first failures. */
export async function mapSummaries(db: SqlExecutor, p: { runId: string }): Promise<MapSummaryRow[]> {
  return db.query<MapSummaryRow>(
    `SELECT seq, count(*)::int AS done, count(*) FILTER (WHERE error IS NOT NULL)::int AS failed,
            (array_agg(json_build_object('index', idx, 'error', error) ORDER BY idx) FILTER (WHERE error IS NOT NULL))[1:5] AS errors
       FROM workflow_map_items WHERE run_id = $1 GROUP BY seq`,
    [p.runId],
    'conveyor.workflowMapSummaries',
  );
}

export interface AdvanceJobRow {
  id: string;
  status: string;
  attempts: number;
  max_attempts: number;
  run_at: Date;
  errors: { attempt: number; at: string; message: string; kind: string }[];
}

/** A run's active advancing job (by its dedupe key): where a retry of its current step stands. */
export async function runAdvanceJob(db: SqlExecutor, p: { runId: string }): Promise<AdvanceJobRow[]> {
  return db.query<AdvanceJobRow>(
    `SELECT id, status, attempts, max_attempts, run_at, errors FROM job_queue
      WHERE dedupe_key = 'workflow:' || $1::text AND status IN ('PENDING', 'PROCESSING')`,
    [p.runId],
    'conveyor.workflowRunAdvanceJob',
  );
}
