/**
 * The app's job handlers, by job type: one registry for the cron routes (worker-routes.ts) and
 * the long-running worker (scripts/worker.ts), so the two never wire a type differently.
 */
import type { JobHandler } from 'pg-conveyor';
import { workflowJobType } from 'pg-conveyor/workflows';
import { connections } from '@/lib/db/client';
import { sharedEmbeddingProvider } from '@/lib/embeddings/provider';
import { processAndStore } from '@/lib/ingestion/process-and-store';
import { JOB_TYPES } from '@/lib/ingestion/schemas';
import { vectorizeProject } from '@/lib/ingestion/vectorize';
import { INGESTION_WORKFLOW } from '@/lib/ingestion/workflow';
import { appWorkflows } from '@/lib/workflows/app-workflows';

/** The ingestion workflow's jobs: its runs' advances and its vectorize items. */
export const INGESTION_WORKFLOW_TYPE = workflowJobType(INGESTION_WORKFLOW);

// Connections are looked up per job, not at import: a route module is imported at build time.
export const APP_HANDLERS = {
  [INGESTION_WORKFLOW_TYPE]: (job, ctx) => appWorkflows().handlers()[INGESTION_WORKFLOW_TYPE]!(job, ctx),
  // Jobs of the pipeline before it became a workflow, still drained so none enqueued before an upgrade is lost.
  [JOB_TYPES.ingest]: (job, ctx) => processAndStore({ pool: connections().pool }, job, ctx),
  [JOB_TYPES.vectorize]: (job, ctx) => vectorizeProject({ pool: connections().pool, provider: sharedEmbeddingProvider() }, job, ctx),
} satisfies Record<string, JobHandler>;
