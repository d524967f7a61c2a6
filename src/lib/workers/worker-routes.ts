/**
 * What each worker route does. The route files in app/api/workers are one line each; the
 * behaviour lives here so tests and run-workers.sh exercise exactly what Vercel Cron calls.
 */
import { cronRoute } from 'pg-conveyor/next';
import { pruneApiUsage } from '@/lib/auth/api-quotas';
import { connections } from '@/lib/db/client';
import { JOB_TYPES } from '@/lib/ingestion/schemas';
import { recordWorkerRun } from '@/lib/observability/heartbeat';
import { appLogger } from '@/lib/observability/logger';
import { authorizeCron, openForDevelopment } from './cron-auth';
import { APP_HANDLERS, INGESTION_WORKFLOW_TYPE } from './handlers';

/** Vercel's limit is 60 s; leave 10 for the response and for finishing what is held. */
export function workerBudgetMs(env: Record<string, string | undefined> = process.env): number {
  const value = Number(env.WORKER_BUDGET_MS ?? 50_000);
  return Number.isFinite(value) && value >= 1_000 ? value : 50_000;
}

export type WorkerName = 'ingestion' | 'vectorization';

// Both routes advance the ingestion workflow (its runs' steps and its vectorize items are jobs of
// one type), so two cron schedules share its work; each also drains its pre-workflow job type.
// The API contract keeps the ingestion route at 3 INGEST_DATA jobs per call.
const WORKERS = {
  ingestion: { types: [INGESTION_WORKFLOW_TYPE, JOB_TYPES.ingest], maxJobsByType: { [JOB_TYPES.ingest]: 3 } },
  vectorization: { types: [INGESTION_WORKFLOW_TYPE, JOB_TYPES.vectorize], maxJobsByType: {} },
} as const;

const intFromEnv = (value: string | undefined, fallback: number, min: number, max: number) => {
  const n = Number(value ?? fallback);
  return Number.isInteger(n) && n >= min && n <= max ? n : fallback;
};

/**
 * How a worker route drains, from the environment:
 *   CRON_CONCURRENCY        jobs at once per invocation (default 8: embedding calls wait on the network)
 *   CRON_MAX_INVOCATIONS    invocations of a route at once, fan-out included (default 4; 1 turns fan-out off)
 *   WORKER_BASE_URL         where fanned-out invocations are sent (default: the URL the tick came in on)
 *   VERCEL_AUTOMATION_BYPASS_SECRET   sent as x-vercel-protection-bypass, for protected preview deployments
 */
export function workerSettings(env: Record<string, string | undefined> = process.env) {
  return {
    concurrency: intFromEnv(env.CRON_CONCURRENCY, 8, 1, 100),
    maxInvocations: intFromEnv(env.CRON_MAX_INVOCATIONS, 4, 1, 1000),
    baseUrl: env.WORKER_BASE_URL || undefined,
    bypass: env.VERCEL_AUTOMATION_BYPASS_SECRET || undefined,
  };
}

/**
 * GET /api/workers/{ingestion,vectorization}: the package's cron route (secret, schedules, one
 * time-budgeted drain of CRON_CONCURRENCY jobs at once, fan-out up to CRON_MAX_INVOCATIONS,
 * `{ success, processed, duration, ... }`) for the app's job types.
 */
export function workerRoute(name: WorkerName): (request: Request) => Promise<Response> {
  const { types, maxJobsByType } = WORKERS[name];
  const settings = workerSettings();
  return cronRoute({
    queue: () => connections().queue,
    handlers: Object.fromEntries(types.map((type) => [type, APP_HANDLERS[type]])),
    maxJobsByType,
    concurrency: settings.concurrency,
    fanOut:
      settings.maxInvocations > 1
        ? {
            maxConcurrentInvocations: settings.maxInvocations,
            url: settings.baseUrl ? new URL(`/api/workers/${name}`, settings.baseUrl).toString() : undefined,
            headers: settings.bypass ? { 'x-vercel-protection-bypass': settings.bypass } : undefined,
          }
        : undefined,
    budgetMs: () => workerBudgetMs(),
    openWhenUnset: openForDevelopment,
    onResult: (result) => recordWorkerRun(connections().pool, name, result),
  });
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
    appLogger().error({ route: 'cleanup', err: error }, 'cleanup route failed');
    return Response.json({ success: false, deletedCount: 0, error: 'Cleanup failed; see server logs' }, { status: 500 });
  }
}
