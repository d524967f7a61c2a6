/**
 * Embedding providers behind one interface, chosen by environment:
 *
 *   EMBEDDING_PROVIDER=local    offline, deterministic (default when no API is configured)
 *   EMBEDDING_PROVIDER=openai   any OpenAI-compatible API (OpenAI, OpenRouter, LM Studio):
 *     EMBEDDING_BASE_URL   e.g. http://localhost:1234/v1 for LM Studio (default: OpenAI's)
 *     EMBEDDING_API_KEY    (or OPENAI_API_KEY)
 *     EMBEDDING_MODEL      default text-embedding-3-small
 *
 * Every provider returns vectors of EMBEDDING_DIMENSIONS, the width of the `vector(1536)` column.
 */
import { z } from 'zod';
import { HashingEmbeddingProvider } from './hashing-provider';
import { OpenAICompatibleProvider } from './openai-provider';

export const EMBEDDING_DIMENSIONS = 1536;

export interface EmbeddingProvider {
  /** Stored with each embedding, so vectors from different models are never compared unknowingly. */
  readonly model: string;
  embed(texts: string[], options?: { signal?: AbortSignal }): Promise<number[][]>;
}

const envSchema = z.object({
  EMBEDDING_PROVIDER: z.enum(['local', 'openai']).optional(),
  EMBEDDING_BASE_URL: z.url().optional(),
  EMBEDDING_API_KEY: z.string().min(1).optional(),
  OPENAI_API_KEY: z.string().min(1).optional(),
  EMBEDDING_MODEL: z.string().min(1).default('text-embedding-3-small'),
  EMBEDDING_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(3),
  EMBEDDING_TIMEOUT_MS: z.coerce.number().int().min(1_000).default(30_000),
});

export function createEmbeddingProvider(env: Record<string, string | undefined> = process.env): EmbeddingProvider {
  const parsed = envSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')));
  if (!parsed.success) {
    throw new Error(`Invalid embedding settings: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const e = parsed.data;
  const apiKey = e.EMBEDDING_API_KEY ?? e.OPENAI_API_KEY;
  const kind = e.EMBEDDING_PROVIDER ?? (apiKey || e.EMBEDDING_BASE_URL ? 'openai' : 'local');
  if (kind === 'local') return new HashingEmbeddingProvider();
  return new OpenAICompatibleProvider({
    baseURL: e.EMBEDDING_BASE_URL,
    // LM Studio and other local servers accept any key; the SDK insists on one.
    apiKey: apiKey ?? 'not-needed',
    model: e.EMBEDDING_MODEL,
    maxRetries: e.EMBEDDING_MAX_RETRIES,
    timeoutMs: e.EMBEDDING_TIMEOUT_MS,
  });
}

let shared: EmbeddingProvider | undefined;

/** The process's provider, made on first use from the environment (not at import: routes are imported at build time). */
export function sharedEmbeddingProvider(): EmbeddingProvider {
  return (shared ??= createEmbeddingProvider());
}
