import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEmbeddingProvider, EMBEDDING_DIMENSIONS } from '@/lib/embeddings/provider';
import { HashingEmbeddingProvider, hashingEmbedding } from '@/lib/embeddings/hashing-provider';
import { OpenAICompatibleProvider } from '@/lib/embeddings/openai-provider';
import { NonRetryableError } from 'pg-conveyor';
import { startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';

let api: FakeOpenAI;
beforeAll(async () => {
  api = await startFakeOpenAI();
});
afterAll(async () => api.close());
beforeEach(() => {
  api.requests.length = 0;
  api.script.length = 0;
});

const cosine = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);

describe('offline hashing provider', () => {
  it('is deterministic, 1536-dimensional, unit length, and lexically meaningful', async () => {
    const provider = new HashingEmbeddingProvider();
    const [a, b, c] = await provider.embed(['the red fox jumps', 'a red fox jumped over', 'quarterly tax filing']);
    expect(a).toHaveLength(EMBEDDING_DIMENSIONS);
    expect(hashingEmbedding('the red fox jumps')).toEqual(a);
    expect(Math.hypot(...a!)).toBeCloseTo(1, 6);
    expect(cosine(a!, b!)).toBeGreaterThan(cosine(a!, c!));
    expect(Math.hypot(...hashingEmbedding(''))).toBeCloseTo(1, 6);
    // Character trigrams: a word finds its inflections.
    const [fox, foxes, taxes] = await provider.embed(['fox', 'Foxes are small mammals', 'quarterly taxes']);
    expect(cosine(fox!, foxes!)).toBeGreaterThan(cosine(fox!, taxes!) + 0.1);
  });

  it('is the default when no API is configured', () => {
    expect(createEmbeddingProvider({})).toBeInstanceOf(HashingEmbeddingProvider);
    expect(createEmbeddingProvider({ EMBEDDING_BASE_URL: api.baseURL })).toBeInstanceOf(OpenAICompatibleProvider);
    expect(() => createEmbeddingProvider({ EMBEDDING_PROVIDER: 'magic' })).toThrow(/EMBEDDING_PROVIDER/);
  });
});

describe('OpenAI-compatible provider against a local server', () => {
  const provider = () =>
    createEmbeddingProvider({ EMBEDDING_BASE_URL: api.baseURL, EMBEDDING_API_KEY: 'sk-test', EMBEDDING_MODEL: 'test-embed', EMBEDDING_MAX_RETRIES: '3' });

  it('embeds a batch in one request, with the key', async () => {
    const vectors = await provider().embed(['one', 'two', 'three']);
    expect(vectors).toHaveLength(3);
    expect(vectors[1]).toEqual(hashingEmbedding('two'));
    expect(api.requests).toHaveLength(1);
    expect(api.requests[0]!.authorization).toBe('Bearer sk-test');
  });

  it('waits as a 429 Retry-After says, then succeeds', async () => {
    api.script.push({ kind: 'status', status: 429, headers: { 'retry-after': '1' } });
    const vectors = await provider().embed(['x']);
    expect(vectors).toHaveLength(1);
    expect(api.requests).toHaveLength(2);
    expect(api.requests[1]!.at - api.requests[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it('retries a 500, and fails (retryably) when it persists', async () => {
    api.script.push({ kind: 'status', status: 500 });
    expect(await provider().embed(['x'])).toHaveLength(1);
    api.requests.length = 0;
    api.script.push(...Array.from({ length: 4 }, () => ({ kind: 'status' as const, status: 500 })));
    const error = await provider()
      .embed(['x'])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(NonRetryableError);
    expect(api.requests).toHaveLength(4);
  });

  it('fails without retry on wrong dimensions, a malformed answer, or a refused request', async () => {
    api.script.push({ kind: 'ok', dimensions: 768 });
    await expect(provider().embed(['x'])).rejects.toThrow(/768 dimensions/);
    api.script.push({ kind: 'malformed' });
    await expect(provider().embed(['x'])).rejects.toBeInstanceOf(NonRetryableError);
    api.requests.length = 0;
    api.script.push({ kind: 'status', status: 401 });
    await expect(provider().embed(['x'])).rejects.toBeInstanceOf(NonRetryableError);
    expect(api.requests).toHaveLength(1);
  });
});
