/**
 * Status of one ingestion: the ingest row, its queue job, and how far vectorization has got.
 * Served to the public API, so a failed attempt is described by what happens next, never by the
 * worker's error text (which may name hosts, queries or data); admins read the full error history
 * in the monitor.
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
  queueJob: { id: string; status: string; attempts: number; maxAttempts: number; lastError: string | null } | null;
  embeddings: { embedded: number; total: number };
  createdAt: Date;
  completedAt: Date | null;
}

/** The ingestion if it belongs to `projectId`; another project's ingestion is as absent as none. */
export async function getIngestionStatus(pool: pg.Pool, projectId: string, ingestJobId: string): Promise<IngestionStatus | null> {
  const { rows } = await pool.query(
    `SELECT i.id, i.project_id, i.status, i.total_records, i.saved_records, i.skipped_records,
            i.generate_embeddings, i.created_at, i.completed_at,
            q.id AS queue_id, q.status AS queue_status, q.attempts, q.max_attempts, q.progress,
            q.errors -> -1 ->> 'kind' AS last_error_kind,
            (SELECT count(*)::int FROM records r WHERE r.ingest_job_id = i.id) AS stored,
            (SELECT count(*)::int FROM records r JOIN embeddings e ON e.record_id = r.id WHERE r.ingest_job_id = i.id) AS embedded
       FROM ingest_jobs i
       LEFT JOIN job_queue q ON q.id = i.queue_job_id
      WHERE i.id = $1 AND i.project_id = $2`,
    [ingestJobId, projectId],
  );
  const r = rows[0];
  if (!r) return null;
  // The ingest row says COMPLETED only when storing finished; a queue job that gave up means FAILED.
  const status = r.status !== 'COMPLETED' && r.queue_status === 'FAILED' ? 'FAILED' : r.status;
  return {
    id: r.id,
    projectId: r.project_id,
    status,
    totalRecords: r.total_records,
    savedRecords: r.saved_records,
    skippedRecords: r.skipped_records,
    generateEmbeddings: r.generate_embeddings,
    progress: r.progress ?? null,
    queueJob: r.queue_id
      ? { id: r.queue_id, status: r.queue_status, attempts: r.attempts, maxAttempts: r.max_attempts, lastError: publicError(r.last_error_kind, r.queue_status) }
      : null,
    embeddings: { embedded: r.embedded, total: r.stored },
    createdAt: r.created_at,
    completedAt: r.completed_at,
  };
}

/** What a caller of the public API may know of the last failed attempt. */
function publicError(kind: string | null, queueStatus: string | null): string | null {
  if (kind === null) return null;
  if (queueStatus === 'FAILED') return 'Processing failed and will not be retried; an administrator can see why.';
  if (kind === 'lease_expired') return 'An attempt took too long; it will be retried.';
  return 'An attempt failed; it will be retried.';
}
