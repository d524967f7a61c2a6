/**
 * The VECTORIZE handler, kept for jobs enqueued before the pipeline became a workflow (whose
 * items call embedRecordRange below): embeds up to RECORDS_PER_JOB of a project's records that
 * have no embedding yet, REQUEST_SIZE per AI request, writing `vector(1536)` rows. When records
 * remain (or time ran out) it enqueues its successor with its completion, so a project of any
 * size is done in bounded steps that fit a serverless invocation. Work already written is never
 * redone: each step selects only records without an embedding.
 */
import type pg from 'pg';
import type { EmbeddingProvider } from '@/lib/embeddings/provider';
import type { JobContext } from 'pg-conveyor';
import { NonRetryableError } from 'pg-conveyor';
import type { Job } from 'pg-conveyor';
import { JOB_TYPES, vectorizePayloadSchema, vectorizeConcurrencyKey } from './schemas';

export const RECORDS_PER_JOB = 250;
export const REQUEST_SIZE = 25;

export interface VectorizeResult {
  embedded: number;
  remaining: boolean;
}

export async function vectorizeProject(
  deps: { pool: pg.Pool; provider: EmbeddingProvider; recordsPerJob?: number; requestSize?: number },
  job: Job,
  ctx: JobContext,
): Promise<VectorizeResult> {
  const parsed = vectorizePayloadSchema.safeParse(job.payload);
  if (!parsed.success) throw new NonRetryableError(`VECTORIZE payload is invalid: ${parsed.error.issues[0]?.message}`);
  const { projectId } = parsed.data;
  const requestSize = deps.requestSize ?? REQUEST_SIZE;

  const { rows: todo } = await deps.pool.query<{ id: string; content: string }>(
    `SELECT r.id, r.content FROM records r
      WHERE r.project_id = $1 AND NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.record_id = r.id)
      ORDER BY r.id
      LIMIT $2`,
    [projectId, deps.recordsPerJob ?? RECORDS_PER_JOB],
  );

  let embedded = 0;
  for (let start = 0; start < todo.length; start += requestSize) {
    // Out of time: keep what is written and let the successor job carry on.
    if (ctx.signal.aborted) break;
    const chunk = todo.slice(start, start + requestSize);
    let vectors: number[][];
    try {
      vectors = await deps.provider.embed(
        chunk.map((r) => r.content),
        { signal: ctx.signal },
      );
    } catch (error) {
      if (ctx.signal.aborted) break;
      throw error;
    }
    await insertEmbeddings(deps.pool, { projectId, model: deps.provider.model, ids: chunk.map((r) => r.id), vectors });
    embedded += chunk.length;
    await ctx.updateProgress(embedded, todo.length, `Embedded ${embedded} of ${todo.length} records`);
  }

  const { rows } = await deps.pool.query<{ remaining: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM records r
                     WHERE r.project_id = $1 AND NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.record_id = r.id)) AS remaining`,
    [projectId],
  );
  const remaining = rows[0]?.remaining ?? false;
  if (remaining) {
    ctx.enqueueOnComplete({
      jobType: JOB_TYPES.vectorize,
      payload: parsed.data,
      concurrencyKey: vectorizeConcurrencyKey(projectId),
    });
  }
  return { embedded, remaining };
}

/**
 * The ingestion workflow's vectorize item: embeds the records of file positions [from, to) of one
 * ingestion that have no embedding yet, `requestSize` per AI request, and answers how many it
 * embedded. Out of time or cancelled: it throws, keeping what it wrote; the retry embeds the rest.
 */
export async function embedRecordRange(
  deps: { pool: pg.Pool; provider: EmbeddingProvider; requestSize?: number },
  range: { ingestJobId: string; projectId: string; from: number; to: number },
  signal: AbortSignal,
): Promise<number> {
  const requestSize = deps.requestSize ?? REQUEST_SIZE;
  const { rows: todo } = await deps.pool.query<{ id: string; content: string }>(
    `SELECT r.id, r.content FROM records r
      WHERE r.ingest_job_id = $1 AND r.row_index >= $2 AND r.row_index < $3
        AND NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.record_id = r.id)
      ORDER BY r.row_index`,
    [range.ingestJobId, range.from, range.to],
  );
  for (let start = 0; start < todo.length; start += requestSize) {
    signal.throwIfAborted();
    const chunk = todo.slice(start, start + requestSize);
    const vectors = await deps.provider.embed(
      chunk.map((r) => r.content),
      { signal },
    );
    await insertEmbeddings(deps.pool, { projectId: range.projectId, model: deps.provider.model, ids: chunk.map((r) => r.id), vectors });
  }
  return todo.length;
}

/** Written once per record: a retried request that overlaps one already written adds nothing. */
async function insertEmbeddings(pool: pg.Pool, p: { projectId: string; model: string; ids: string[]; vectors: number[][] }): Promise<void> {
  await pool.query(
    `INSERT INTO embeddings (record_id, project_id, embedding, model)
     SELECT r.id, $2, r.embedding::vector, $3
       FROM unnest($1::uuid[], $4::text[]) AS r(id, embedding)
     ON CONFLICT (record_id) DO NOTHING`,
    [p.ids, p.projectId, p.model, p.vectors.map((v) => `[${v.join(',')}]`)],
  );
}
