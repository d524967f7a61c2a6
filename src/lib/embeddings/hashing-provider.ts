/**
 * The offline default: a feature-hashing embedding. Each word, word pair and (at half weight) each
 * word's character trigrams is hashed to one of 1536 dimensions with a sign, and the vector is
 * L2-normalised; the trigrams let "fox" find "foxes". No key, no network, deterministic,
 * and texts that share words land close together, so similarity search gives sensible results
 * out of the box. It is lexical, not semantic: configure an API model for real meaning.
 */
import type { EmbeddingProvider } from './provider';

const DIMENSIONS = 1536;

/** FNV-1a, 32 bit: fast, stable across platforms and releases. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export function hashingEmbedding(text: string): number[] {
  const vector = new Array<number>(DIMENSIONS).fill(0);
  const words =
    text
      .toLowerCase()
      .normalize('NFKC')
      .match(/[\p{L}\p{N}]+/gu) ?? [];
  const add = (feature: string, weight: number) => {
    const hash = fnv1a(feature);
    vector[hash % DIMENSIONS]! += hash & 0x80000000 ? -weight : weight;
  };
  words.forEach((word, i) => {
    add(word, 1);
    if (i > 0) add(`${words[i - 1]} ${word}`, 1);
    const padded = `<${word}>`;
    for (let j = 0; j + 3 <= padded.length; j++) add(`#${padded.slice(j, j + 3)}`, 0.5);
  });
  const norm = Math.hypot(...vector);
  // An empty text still needs a valid, non-zero vector for cosine distance.
  if (norm === 0) {
    vector[0] = 1;
    return vector;
  }
  return vector.map((x) => x / norm);
}

export class HashingEmbeddingProvider implements EmbeddingProvider {
  readonly model = 'local-hashing-v1';
  async embed(texts: string[]): Promise<number[][]> {
    return texts.map(hashingEmbedding);
  }
}
