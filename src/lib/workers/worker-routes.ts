/**
 * What each worker route does. The route files in app/api/workers are one line each; the
 * behaviour lives here so tests and run-workers.sh exercise exactly what Vercel Cron calls.
 */
import { createEmbeddingProvider, type EmbeddingProvider } from '@/lib/embeddings/provider';
import { pruneApiUsage } from '@/lib/auth/api-quotas';
import { connections } from '@/lib/db/client';
import { processAndStore } from '@/lib/ingestion/process-and-store';
import { JOB_TYPES } from '@/lib/ingestion/schemas';
import { vectorizeProject } from '@/lib/ingestion/vectorize';
import { drainQueue, type DrainOptions } from 'pg-conveyor';
import { recordWorkerRun } from '@/lib/observability/heartbeat';
import { authorizeCron } from './cron-auth';

/** Vercel's limit is 60 s; leave 10 for the response and for finishing what is held. */
export function workerBudgetMs(env: Record<string, string | undefined> = process.env): number {
  const value = Number(env.WORKER_BUDGET_MS ?? 50_000);
  return Number.isFinite(value) && value >= 1_000 ? value : 50_000;
}

let provider: EmbeddingProvider | undefined;
const embeddingProvider = () => (provider ??= createEmbeddingProvider());

export type WorkerName = 'ingestion' | 'vectorization';

export function workerDefinition(name: WorkerName): Omit<DrainOptions, 'budgetMs'> {
  const { pool } = connections();
  switch (name) {
    case 'ingestion':
      return { types: [JOB_TYPES.ingest], maxJobs: 3, handler: (job, ctx) => processAndStore({ pool }, job, ctx) };
    case 'vectorization':
      return {
        types: [JOB_TYPES.vectorize],
        maxJobs: 2,
        handler: (job, ctx) => vectorizeProject({ pool, provider: embeddingProvider() }, job, ctx),
      };
  }
}

/** GET /api/workers/{ingestion,vectorization}: auth, one time-budgeted drain, `{ success, processed, duration }`. */
export async function handleWorkerRoute(request: Request, name: WorkerName): Promise<Response> {
  const auth = authorizeCron(request);
  if (!auth.ok) return auth.response;
  const started = Date.now();
  try {
    // Recurring jobs fire from whatever runs: here, each cron tick (exactly once per slot).
    await connections().queue.fireDueSchedules();
    const result = await drainQueue(connections().queue, { ...workerDefinition(name), budgetMs: workerBudgetMs() });
    await recordWorkerRun(connections().pool, name, result);
    return Response.json(result);
  } catch (error) {
    console.error(`[workers/${name}] drain failed:`, error);
    return Response.json({ success: false, processed: 0, duration: Date.now() - started, error: 'Worker failed; see server logs' }, { status: 500 });
  }
}

/**
 * GET /api/workers/cleanup: deletes finished jobs older than CLEANUP_OLDER_THAN_DAYS (default 7)
 * and API usage counts of windows that ended more than a day ago.
 */
export async function handleCleanupRoute(request: Request): Promise<Response> {
  const auth = authorizeCron(request);
  if (!auth.ok) return auth.response;
  try {
    const days = Number(process.env.CLEANUP_OLDER_THAN_DAYS ?? 7);
    const deletedCount = await connections().queue.cleanup(days);
    const usageWindowsDeleted = await pruneApiUsage(connections().pool);
    await recordWorkerRun(connections().pool, 'cleanup', { deletedCount, usageWindowsDeleted });
    return Response.json({ success: true, deletedCount, usageWindowsDeleted });
  } catch (error) {
    console.error('[workers/cleanup] failed:', error);
    return Response.json({ success: false, deletedCount: 0, error: 'Cleanup failed; see server logs' }, { status: 500 });
  }
}
