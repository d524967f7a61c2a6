/** What an ingestion accepts, and the payloads of the two job types it produces. */
import { z } from 'zod';

export const INGEST_LIMITS = {
  /** Records per submission. */
  maxRecords: 10_000,
  /** Characters per record's text. */
  maxContentLength: 20_000,
  /** Request body bytes (CSV or JSON). The queue's payload cap (1 MiB) must hold the records. */
  maxBodyBytes: 900 * 1024,
} as const;

const metadataValue = z.union([z.string().max(2_000), z.number(), z.boolean(), z.null()]);

/** A record: its text under `content` (or `text`), anything else becomes metadata. */
export const ingestRecordSchema = z
  .object({
    content: z.string().max(INGEST_LIMITS.maxContentLength).optional(),
    text: z.string().max(INGEST_LIMITS.maxContentLength).optional(),
  })
  .catchall(metadataValue)
  .refine((r) => r.content !== undefined || r.text !== undefined, { message: 'each record needs a "content" (or "text") field' })
  .transform(({ content, text, ...metadata }) => ({ content: (content ?? text)!, metadata }));

export type IngestRecord = z.output<typeof ingestRecordSchema>;

export const ingestSubmissionSchema = z
  .object({
    generateEmbeddings: z.boolean().default(true),
    records: z.array(ingestRecordSchema).min(1).max(INGEST_LIMITS.maxRecords),
  })
  .strict();

export type IngestSubmission = z.output<typeof ingestSubmissionSchema>;

export const ingestPayloadSchema = z.object({
  ingestJobId: z.uuid(),
  projectId: z.uuid(),
  records: z.array(z.object({ content: z.string(), metadata: z.record(z.string(), z.unknown()) })),
  generateEmbeddings: z.boolean(),
});
export type IngestPayload = z.output<typeof ingestPayloadSchema>;

export const vectorizePayloadSchema = z.object({ projectId: z.uuid(), ingestJobId: z.uuid().optional() });
export type VectorizePayload = z.output<typeof vectorizePayloadSchema>;

export const JOB_TYPES = { ingest: 'INGEST_DATA', vectorize: 'VECTORIZE' } as const;

/** VECTORIZE jobs of one project never run at once (one AI stream per project). */
export const vectorizeConcurrencyKey = (projectId: string) => `vectorize:${projectId}`;
