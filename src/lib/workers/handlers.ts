/**
 * The app's job handlers, by job type: one registry for the cron routes (worker-routes.ts) and
 * the long-running worker (scripts/worker.ts), so the two never wire a type differently.
 */
import type { JobHandler } from 'pg-conveyor';
import { connections } from '@/lib/db/client';
import { createEmbeddingProvider, type EmbeddingProvider } from '@/lib/embeddings/provider';
import { processAndStore } from '@/lib/ingestion/process-and-store';
import { JOB_TYPES } from '@/lib/ingestion/schemas';
import { vectorizeProject } from '@/lib/ingestion/vectorize';

let provider: EmbeddingProvider | undefined;
const embeddingProvider = () => (provider ??= createEmbeddingProvider());

// Connections are looked up per job, not at import: a route module is imported at build time.
export const APP_HANDLERS = {
  [JOB_TYPES.ingest]: (job, ctx) => processAndStore({ pool: connections().pool }, job, ctx),
  [JOB_TYPES.vectorize]: (job, ctx) => vectorizeProject({ pool: connections().pool, provider: embeddingProvider() }, job, ctx),
} satisfies Record<string, JobHandler>;
