import type { InsertedJobRow, NewJobRow } from './jobs-insert.js';
import type { TraceCarrier } from '../observability/telemetry.js';
import type { Job, JobErrorEntry, JobProgress, JobStatus } from '../core/types.js';

/** The table's columns, in the order every statement returns them. */
export const JOB_COLUMNS = `id, job_type, status, payload, result, priority, attempts, max_attempts, run_at,
  locked_until, locked_by, progress, errors, created_at, updated_at, started_at, completed_at, concurrency_key,
  dedupe_key, unique_key, trace_context`;

/** The same, each qualified by the alias `j` (a statement that joins job_queue j to rows of the same column names). */
export const JOB_COLUMNS_OF_J = JOB_COLUMNS.replace(/(^|,\s*)(\w+)/g, '$1j.$2');

export interface JobRow {
  id: string;
  job_type: string;
  status: string;
  payload: unknown;
  result: unknown;
  priority: number;
  attempts: number;
  max_attempts: number;
  run_at: Date | string;
  locked_until: Date | string | null;
  locked_by: string | null;
  progress: unknown;
  errors: unknown;
  created_at: Date | string;
  updated_at: Date | string;
  started_at: Date | string | null;
  completed_at: Date | string | null;
  concurrency_key: string | null;
  dedupe_key: string | null;
  unique_key: string | null;
  trace_context: unknown;
}

const toDate = (value: Date | string): Date => (value instanceof Date ? value : new Date(value));
const toDateOrNull = (value: Date | string | null): Date | null => (value === null ? null : toDate(value));

export function rowToJob<P = unknown>(row: JobRow): Job<P> {
  return {
    id: row.id,
    job_id: row.id,
    jobType: row.job_type,
    status: row.status as JobStatus,
    payload: (row.payload ?? null) as P | null,
    result: row.result ?? null,
    priority: Number(row.priority),
    attempts: Number(row.attempts),
    maxAttempts: Number(row.max_attempts),
    runAt: toDate(row.run_at),
    lockedUntil: toDateOrNull(row.locked_until),
    lockedBy: row.locked_by,
    progress: (row.progress ?? null) as JobProgress | null,
    errors: (row.errors ?? []) as JobErrorEntry[],
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
    startedAt: toDateOrNull(row.started_at),
    completedAt: toDateOrNull(row.completed_at),
    concurrencyKey: row.concurrency_key,
    dedupeKey: row.dedupe_key,
    uniqueKey: row.unique_key,
    traceContext: (row.trace_context ?? null) as TraceCarrier | null,
  };
}

/**
 * The Job an enqueue created, from what the caller sent and what the INSERT returned (the
 * database's clock and the keys it derived); every other column has its fixed initial value.
 */
export function newJobFromInsert<P = unknown>(
  sent: NewJobRow,
  inserted: Pick<InsertedJobRow, 'run_at' | 'created_at' | 'dedupe_key' | 'unique_key'>,
  traceContext: TraceCarrier | null,
): Job<P> {
  const createdAt = toDate(inserted.created_at);
  return {
    id: sent.id,
    job_id: sent.id,
    jobType: sent.job_type,
    status: 'PENDING',
    payload: (sent.payloadJson === null ? null : JSON.parse(sent.payloadJson)) as P | null,
    result: null,
    priority: sent.priority,
    attempts: 0,
    maxAttempts: sent.max_attempts,
    runAt: toDate(inserted.run_at),
    lockedUntil: null,
    lockedBy: null,
    progress: null,
    errors: [],
    createdAt,
    updatedAt: createdAt,
    startedAt: null,
    completedAt: null,
    concurrencyKey: sent.concurrency_key,
    dedupeKey: inserted.dedupe_key,
    uniqueKey: inserted.unique_key,
    traceContext,
    // Made by this enqueue (the key holders it found instead are marked true in enqueue.ts).
    deduplicated: false,
  };
}
