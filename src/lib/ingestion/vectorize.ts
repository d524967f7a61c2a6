/**
 * The VECTORIZE handler: embeds up to RECORDS_PER_JOB of a project's records that have no
 * embedding yet, REQUEST_SIZE per AI request, writing `vector(1536)` rows. When records remain
 * (or time ran out) it enqueues its successor with its completion, so a project of any size is
 * done in bounded steps that fit a serverless invocation. Work already written is never redone:
 * each step selects only records without an embedding.
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
      vectors = await deps.provider.embed(chunk.map((r) => r.content), { signal: ctx.signal });
    } catch (error) {
      if (ctx.signal.aborted) break;
      throw error;
    }
    await deps.pool.query(
      `INSERT INTO embeddings (record_id, project_id, embedding, model)
       SELECT r.id, $2, r.embedding::vector, $3
         FROM unnest($1::uuid[], $4::text[]) AS r(id, embedding)
       ON CONFLICT (record_id) DO NOTHING`,
      [chunk.map((r) => r.id), projectId, deps.provider.model, vectors.map((v) => `[${v.join(',')}]`)],
    );
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
