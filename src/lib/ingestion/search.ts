/** Similarity search over stored embeddings: cosine distance, served by the HNSW index. */
import type pg from 'pg';
import type { EmbeddingProvider } from '@/lib/embeddings/provider';

export interface SearchHit {
  recordId: string;
  content: string;
  metadata: unknown;
  similarity: number;
}

export async function searchSimilar(
  deps: { pool: pg.Pool; provider: EmbeddingProvider },
  p: { projectId: string; query: string; limit: number },
): Promise<SearchHit[]> {
  const [vector] = await deps.provider.embed([p.query]);
  const { rows } = await deps.pool.query<{ record_id: string; content: string; metadata: unknown; similarity: number }>(
    `SELECT r.id AS record_id, r.content, r.metadata, 1 - (e.embedding <=> $1::vector) AS similarity
       FROM embeddings e
       JOIN records r ON r.id = e.record_id
      WHERE e.project_id = $2 AND e.model = $4
      ORDER BY e.embedding <=> $1::vector
      LIMIT $3`,
    [`[${vector!.join(',')}]`, p.projectId, p.limit, deps.provider.model],
  );
  return rows.map((r) => ({ recordId: r.record_id, content: r.content, metadata: r.metadata, similarity: Number(r.similarity) }));
}
