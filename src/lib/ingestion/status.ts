/**
 * Status of one ingestion: the ingest row, the workflow run that processes it (or, for an
 * ingestion from before the pipeline was a workflow, its INGEST_DATA queue job), and how far
 * storing and vectorization have got. Served to the public API, so a failure is described by
 * what happens next, never by the worker's error text (which may name hosts, queries or data);
 * admins read the full errors in the monitor.
 */
import type pg from 'pg';

export interface IngestionStatus {
  id: string;
  projectId: string;
  status: 'QUEUED' | 'PROCESSING' | 'COMPLETED' | 'FAILED';
  totalRecords: number;
  savedRecords: number;
  skippedRecords: number;
  generateEmbeddings: boolean;
  progress: { current: number; total: number; message: string } | null;
  /** The run that processes it: its status, the step it is at, and what happens after a failure. */
  workflow: { runId: string; status: string; currentStep: string | null; lastError: string | null } | null;
  /** Ingestions from before the workflow: their INGEST_DATA job. */
  queueJob: { id: string; status: string; attempts: number; maxAttempts: number; lastError: string | null } | null;
  embeddings: { embedded: number; total: number };
  createdAt: Date;
  completedAt: Date | null;
}

/** The ingestion if it belongs to `projectId`; another project's ingestion is as absent as none. */
export async function getIngestionStatus(pool: pg.Pool, projectId: string, ingestJobId: string): Promise<IngestionStatus | null> {
  // The run's active advancing job (found by its dedupe key, through the active-dedupe index)
  // tells whether an attempt failed and will be retried.
  const { rows } = await pool.query(
    `SELECT i.id, i.project_id, i.status, i.total_records, i.saved_records, i.skipped_records, i.processed_records,
            i.generate_embeddings, i.created_at, i.completed_at,
            w.id AS run_id, w.status AS run_status, w.current_step,
            (SELECT a.errors -> -1 ->> 'kind' FROM job_queue a
              WHERE a.dedupe_key = 'workflow:' || w.id AND a.status IN ('PENDING', 'PROCESSING')) AS run_retry_kind,
            q.id AS queue_id, q.status AS queue_status, q.attempts, q.max_attempts, q.progress,
            q.errors -> -1 ->> 'kind' AS last_error_kind,
            (SELECT count(*)::int FROM records r WHERE r.ingest_job_id = i.id) AS stored,
            (SELECT count(*)::int FROM records r JOIN embeddings e ON e.record_id = r.id WHERE r.ingest_job_id = i.id) AS embedded
       FROM ingest_jobs i
       LEFT JOIN workflow_runs w ON w.id = i.workflow_run_id
       LEFT JOIN job_queue q ON q.id = i.queue_job_id
      WHERE i.id = $1 AND i.project_id = $2`,
    [ingestJobId, projectId],
  );
  const r = rows[0];
  if (!r) return null;
  // COMPLETED only once everything asked for is done; a run or queue job that gave up means FAILED.
  const gaveUp = r.run_status === 'FAILED' || r.run_status === 'CANCELLED' || r.queue_status === 'FAILED';
  const status = r.status !== 'COMPLETED' && gaveUp ? 'FAILED' : r.status;
  return {
    id: r.id,
    projectId: r.project_id,
    status,
    totalRecords: r.total_records,
    savedRecords: r.saved_records,
    skippedRecords: r.skipped_records,
    generateEmbeddings: r.generate_embeddings,
    progress: r.run_id ? runProgress(r) : (r.progress ?? null),
    workflow: r.run_id
      ? { runId: r.run_id, status: r.run_status, currentStep: r.current_step, lastError: runPublicError(r.run_status, r.run_retry_kind) }
      : null,
    queueJob: r.queue_id
      ? { id: r.queue_id, status: r.queue_status, attempts: r.attempts, maxAttempts: r.max_attempts, lastError: publicError(r.last_error_kind, r.queue_status) }
      : null,
    embeddings: { embedded: r.embedded, total: r.stored },
    createdAt: r.created_at,
    completedAt: r.completed_at,
  };
}

/** Storing, then (when asked for) embedding: the phase the run is in, counted from the tables. */
function runProgress(r: { processed_records: number; total_records: number; generate_embeddings: boolean; embedded: number; stored: number }) {
  if (r.processed_records < r.total_records || !r.generate_embeddings) {
    return { current: r.processed_records, total: r.total_records, message: `Stored ${r.processed_records} of ${r.total_records} records` };
  }
  return { current: r.embedded, total: r.stored, message: `Embedded ${r.embedded} of ${r.stored} records` };
}

function runPublicError(runStatus: string, retryKind: string | null): string | null {
  if (runStatus === 'FAILED') return 'Processing failed and will not be retried; an administrator can see why.';
  if (runStatus === 'CANCELLED') return 'Processing was cancelled by an administrator.';
  if (retryKind === null) return null;
  return retryKind === 'lease_expired' ? 'An attempt took too long; it will be retried.' : 'An attempt failed; it will be retried.';
}

/** What a caller of the public API may know of the last failed attempt. */
function publicError(kind: string | null, queueStatus: string | null): string | null {
  if (kind === null) return null;
  if (queueStatus === 'FAILED') return 'Processing failed and will not be retried; an administrator can see why.';
  if (kind === 'lease_expired') return 'An attempt took too long; it will be retried.';
  return 'An attempt failed; it will be retried.';
}
