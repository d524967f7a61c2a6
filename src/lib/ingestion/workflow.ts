/**
 * The ingestion pipeline as a durable workflow, one run per submission:
 *
 *   store 1-100, store 101-200, ...   a step per batch of BATCH_SIZE records, one transaction each
 *   count stored                      saved/skipped counts; the submitted records are dropped
 *   vectorize                         a map of RECORDS_PER_ITEM-record ranges, embedded in parallel
 *                                     across workers and cron ticks, REQUEST_SIZE per AI request
 *   done                              the ingestion is COMPLETED (searchable, when embeddings were asked for)
 *
 * Exactly once: a batch's records are keyed by (ingest_job_id, row_index), so a step body that ran
 * but was not stored (a crash between the two) inserts nothing the second time; an item embeds
 * only its range's records without an embedding yet. The records wait in ingest_jobs.pending_records
 * (not in the run's input) until every batch is stored, then are cleared, as the INGEST_DATA job's
 * payload was.
 */
import type pg from 'pg';
import { z } from 'zod';
import { defineWorkflow, type WorkflowContext } from 'pg-conveyor/workflows';
import type { EmbeddingProvider } from '@/lib/embeddings/provider';
import { BATCH_SIZE, batchRows, storeBatch } from './process-and-store';
import { embedRecordRange } from './vectorize';

export const INGESTION_WORKFLOW = 'ingestion';
/** Records one vectorize item embeds (one map item, one job). */
export const RECORDS_PER_ITEM = 100;

export interface IngestionDeps {
  pool: pg.Pool;
  provider: () => EmbeddingProvider;
  batchSize?: number;
  recordsPerItem?: number;
  requestSize?: number;
  /** Tests: called after each batch is stored (to fail or kill there). */
  afterBatch?: (batchIndex: number) => Promise<void>;
}

export const ingestionInputSchema = z.object({
  ingestJobId: z.uuid(),
  projectId: z.uuid(),
  totalRecords: z.number().int().min(0),
  generateEmbeddings: z.boolean(),
});
export type IngestionInput = z.output<typeof ingestionInputSchema>;

export interface IngestionOutput {
  savedCount: number;
  skippedCount: number;
  embedded: number;
}

/** `deps` is called in each advance: connections are looked up when a run advances, not at import. */
export function ingestionWorkflow(deps: () => IngestionDeps) {
  return defineWorkflow({
    name: INGESTION_WORKFLOW,
    input: ingestionInputSchema,
    // A vectorize item cut short by a tick's budget fails its attempt (keeping what it wrote): room for several.
    maxAttempts: 10,
    run: async (ctx, input): Promise<IngestionOutput> => {
      const d = deps();
      const { ingestJobId, projectId, totalRecords } = input;
      const batchSize = d.batchSize ?? BATCH_SIZE;
      for (let start = 0, batch = 0; start < totalRecords; start += batchSize, batch++) {
        const end = Math.min(start + batchSize, totalRecords);
        await ctx.step(`store ${start + 1}-${end}`, async () => {
          const rows = batchRows(await pendingSlice(d.pool, ingestJobId, start, end), start);
          await storeBatch(d.pool, { ingestJobId, projectId, rows, processedUpTo: end });
          await d.afterBatch?.(batch);
          return { stored: rows.length };
        });
      }
      const counts = await ctx.step('count stored', () => finishStoring(d.pool, ingestJobId));
      const embedded = input.generateEmbeddings && counts.savedCount > 0 ? await vectorize(ctx, d, input) : 0;
      await ctx.step('done', () => markCompleted(d.pool, ingestJobId));
      return { ...counts, embedded };
    },
  });
}

async function vectorize(ctx: WorkflowContext, d: IngestionDeps, input: IngestionInput): Promise<number> {
  const per = d.recordsPerItem ?? RECORDS_PER_ITEM;
  // From the input alone, so every replay computes the same items.
  const ranges = Array.from({ length: Math.ceil(input.totalRecords / per) }, (_, i) => ({ from: i * per, to: Math.min((i + 1) * per, input.totalRecords) }));
  const counts = await ctx.map('vectorize', ranges, (range) =>
    embedRecordRange(
      { pool: d.pool, provider: d.provider(), requestSize: d.requestSize },
      { ingestJobId: input.ingestJobId, projectId: input.projectId, ...range },
      ctx.signal,
    ),
  );
  return counts.reduce((sum, n) => sum + n, 0);
}

/** Submitted records [start, end) (0-based file positions) from the ingestion's pending copy. */
async function pendingSlice(pool: pg.Pool, ingestJobId: string, start: number, end: number) {
  const { rows } = await pool.query<{ records: { content: string; metadata: Record<string, unknown> }[] | null }>(
    `SELECT (SELECT jsonb_agg(r.record ORDER BY r.n)
               FROM jsonb_array_elements(i.pending_records) WITH ORDINALITY AS r(record, n)
              WHERE r.n > $2 AND r.n <= $3) AS records
       FROM ingest_jobs i WHERE i.id = $1`,
    [ingestJobId, start, end],
  );
  return rows[0]?.records ?? [];
}

/** Every batch is stored: the final counts, and the submitted copy dropped (it is in `records` now). */
async function finishStoring(pool: pg.Pool, ingestJobId: string): Promise<Omit<IngestionOutput, 'embedded'>> {
  const { rows } = await pool.query<{ saved: number; skipped: number }>(
    `UPDATE ingest_jobs
        SET saved_records = (SELECT count(*) FROM records WHERE ingest_job_id = $1),
            skipped_records = total_records - (SELECT count(*) FROM records WHERE ingest_job_id = $1),
            processed_records = total_records, pending_records = NULL, updated_at = now()
      WHERE id = $1
     RETURNING saved_records AS saved, skipped_records AS skipped`,
    [ingestJobId],
  );
  return { savedCount: rows[0]?.saved ?? 0, skippedCount: rows[0]?.skipped ?? 0 };
}

async function markCompleted(pool: pg.Pool, ingestJobId: string): Promise<void> {
  await pool.query(`UPDATE ingest_jobs SET status = 'COMPLETED', completed_at = now(), updated_at = now() WHERE id = $1 AND status <> 'COMPLETED'`, [
    ingestJobId,
  ]);
}
