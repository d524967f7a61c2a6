import type { Job, JobErrorEntry, JobProgress, JobStatus } from './types';

/** The table's columns, in the order every statement returns them. */
export const JOB_COLUMNS = `id, job_type, status, payload, result, priority, attempts, max_attempts, run_at,
  locked_until, locked_by, progress, errors, created_at, updated_at, started_at, completed_at, concurrency_key,
  dedupe_key, unique_key`;

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
  };
}
