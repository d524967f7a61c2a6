/**
 * Embeddings from any OpenAI-compatible API through the `openai` package. The SDK retries 429
 * and 5xx answers itself, waiting as the server's Retry-After says; what cannot get better by
 * retrying (wrong dimensions, a malformed answer, a rejected request) fails the job at once.
 */
import OpenAI from 'openai';
import { NonRetryableError } from 'pg-conveyor';
import { EMBEDDING_DIMENSIONS, type EmbeddingProvider } from './provider';

export interface OpenAICompatibleOptions {
  baseURL?: string;
  apiKey: string;
  model: string;
  maxRetries: number;
  timeoutMs: number;
}

export class OpenAICompatibleProvider implements EmbeddingProvider {
  readonly model: string;
  private readonly client: OpenAI;

  constructor(options: OpenAICompatibleOptions) {
    this.model = options.model;
    this.client = new OpenAI({
      baseURL: options.baseURL,
      apiKey: options.apiKey,
      maxRetries: options.maxRetries,
      timeout: options.timeoutMs,
    });
  }

  async embed(texts: string[], options: { signal?: AbortSignal } = {}): Promise<number[][]> {
    if (texts.length === 0) return [];
    let response: OpenAI.Embeddings.CreateEmbeddingResponse;
    try {
      response = await this.client.embeddings.create(
        // 'float' explicitly: the SDK's default (base64) is not understood by every compatible server.
        { model: this.model, input: texts, encoding_format: 'float' },
        { signal: options.signal },
      );
    } catch (error) {
      // 400/401/403/404/422: the request itself is wrong; retrying the job cannot fix it.
      if (
        error instanceof OpenAI.APIError &&
        error.status !== undefined &&
        error.status >= 400 &&
        error.status < 500 &&
        error.status !== 408 &&
        error.status !== 409 &&
        error.status !== 429
      ) {
        throw new NonRetryableError(`Embedding API refused the request (${error.status}): ${error.message}`, { cause: error });
      }
      throw error;
    }
    return validateEmbeddings(response, texts.length);
  }
}

function validateEmbeddings(response: unknown, expected: number): number[][] {
  const data = (response as { data?: unknown })?.data;
  if (!Array.isArray(data) || data.length !== expected) {
    throw new NonRetryableError(`Embedding API returned ${Array.isArray(data) ? data.length : 'no'} embeddings for ${expected} inputs`);
  }
  const vectors = new Array<number[]>(expected);
  for (const item of data as { index?: unknown; embedding?: unknown }[]) {
    const index = typeof item?.index === 'number' ? item.index : -1;
    const embedding = item?.embedding;
    if (index < 0 || index >= expected || !Array.isArray(embedding)) {
      throw new NonRetryableError('Embedding API returned a malformed embedding');
    }
    if (embedding.length !== EMBEDDING_DIMENSIONS) {
      throw new NonRetryableError(
        `Embedding model returned ${embedding.length} dimensions; the embeddings column holds ${EMBEDDING_DIMENSIONS}. Choose a model with ${EMBEDDING_DIMENSIONS}-dimensional output.`,
      );
    }
    if (!embedding.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw new NonRetryableError('Embedding API returned non-numeric values');
    }
    vectors[index] = embedding as number[];
  }
  if (vectors.some((v) => v === undefined)) throw new NonRetryableError('Embedding API skipped some inputs');
  return vectors;
}
