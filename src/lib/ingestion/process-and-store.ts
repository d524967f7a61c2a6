/**
 * The INGEST_DATA handler, kept for ingestions submitted before the pipeline became a workflow
 * (workflow.ts; new submissions start a run). Stores the job's records in transactions of
 * BATCH_SIZE, each keyed by (ingest_job_id, row_index): a retry after a failure or a crash
 * mid-batch re-inserts nothing that landed, so every record is stored exactly once. Progress is
 * reported as batches land. When embeddings were asked for, the VECTORIZE job is enqueued with
 * this job's completion.
 */
import type pg from 'pg';
import type { JobContext } from 'pg-conveyor';
import { inTransaction, JobTimeoutError, NonRetryableError } from 'pg-conveyor';
import type { Job } from 'pg-conveyor';
import { JOB_TYPES, ingestPayloadSchema, vectorizeConcurrencyKey } from './schemas';

export const BATCH_SIZE = Number(process.env.INGEST_BATCH_SIZE ?? 100);

export interface IngestResult {
  savedCount: number;
  skippedCount: number;
  vectorizeQueued: boolean;
}

export async function processAndStore(
  deps: { pool: pg.Pool; batchSize?: number; afterBatch?: (batchIndex: number) => Promise<void> },
  job: Job,
  ctx: JobContext,
): Promise<IngestResult> {
  const parsed = ingestPayloadSchema.safeParse(job.payload);
  if (!parsed.success) throw new NonRetryableError(`INGEST_DATA payload is invalid: ${parsed.error.issues[0]?.message}`);
  const { ingestJobId, projectId, records, generateEmbeddings } = parsed.data;
  const batchSize = deps.batchSize ?? BATCH_SIZE;

  await deps.pool.query(`UPDATE ingest_jobs SET status = 'PROCESSING', updated_at = now() WHERE id = $1 AND status IN ('QUEUED', 'PROCESSING')`, [ingestJobId]);
  for (let start = 0, batch = 0; start < records.length; start += batchSize, batch++) {
    if (ctx.signal.aborted) throw new JobTimeoutError(job.id, ctx.deadline - Date.now());
    const rows = batchRows(records.slice(start, start + batchSize), start);
    await storeBatch(deps.pool, { ingestJobId, projectId, rows, processedUpTo: Math.min(start + batchSize, records.length) });
    await ctx.updateProgress(
      Math.min(start + batchSize, records.length),
      records.length,
      `Stored ${Math.min(start + batchSize, records.length)} of ${records.length} records`,
    );
    await deps.afterBatch?.(batch);
  }

  const { rows } = await deps.pool.query<{ saved: number }>(
    `UPDATE ingest_jobs
        SET status = 'COMPLETED', completed_at = now(), updated_at = now(),
            saved_records = (SELECT count(*) FROM records WHERE ingest_job_id = $1),
            skipped_records = total_records - (SELECT count(*) FROM records WHERE ingest_job_id = $1)
      WHERE id = $1
     RETURNING saved_records AS saved`,
    [ingestJobId],
  );
  const savedCount = rows[0]?.saved ?? 0;
  if (generateEmbeddings && savedCount > 0) {
    ctx.enqueueOnComplete({
      jobType: JOB_TYPES.vectorize,
      payload: { projectId, ingestJobId },
      concurrencyKey: vectorizeConcurrencyKey(projectId),
    });
  }
  return { savedCount, skippedCount: records.length - savedCount, vectorizeQueued: generateEmbeddings && savedCount > 0 };
}

/** The records of one batch as stored: trimmed, empty ones skipped, each keyed by its file position. */
export function batchRows(records: { content: string; metadata: unknown }[], start: number) {
  return records
    .map((record, i) => ({ row_index: start + i, content: record.content.trim(), metadata: record.metadata }))
    .filter((row) => row.content.length > 0);
}

/**
 * One batch, one transaction: the rows, the running count and how far storing has got
 * (`processedUpTo`, stored or skipped) land together or not at all.
 */
export async function storeBatch(
  pool: pg.Pool,
  p: { ingestJobId: string; projectId: string; rows: { row_index: number; content: string; metadata: unknown }[]; processedUpTo?: number },
): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query(
      `INSERT INTO records (project_id, ingest_job_id, row_index, content, metadata)
       SELECT $1, $2, r.row_index, r.content, r.metadata
         FROM jsonb_to_recordset($3::jsonb) AS r(row_index int, content text, metadata jsonb)
       ON CONFLICT (ingest_job_id, row_index) DO NOTHING`,
      [p.projectId, p.ingestJobId, JSON.stringify(p.rows)],
    );
    await client.query(
      `UPDATE ingest_jobs SET saved_records = (SELECT count(*) FROM records WHERE ingest_job_id = $1),
              processed_records = greatest(processed_records, coalesce($2, processed_records)),
              status = CASE WHEN status = 'QUEUED' THEN 'PROCESSING'::"IngestStatus" ELSE status END, updated_at = now()
        WHERE id = $1`,
      [p.ingestJobId, p.processedUpTo ?? null],
    );
  });
}
