/**
 * GET /api/health/queue: is the database reachable, is the queue moving, are workers running?
 * Unhealthy (503) when the database does not answer, when the due job waiting longest has waited more
 * than HEALTH_MAX_PENDING_AGE_S (default 600 s) past its run_at, or when jobs are waiting and no worker has run for
 * HEALTH_MAX_WORKER_SILENCE_S (default 300 s).
 */
import { connections } from '@/lib/db/client';
import { lastWorkerRun } from './heartbeat';

const seconds = (name: string, fallback: number) => {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
};

export async function handleHealthGet(): Promise<Response> {
  const maxPendingAge = seconds('HEALTH_MAX_PENDING_AGE_S', 600);
  const maxWorkerSilence = seconds('HEALTH_MAX_WORKER_SILENCE_S', 300);
  try {
    const { queue, pool } = connections();
    const [stats, oldest, worker] = await Promise.all([queue.getQueueStats(), queue.oldestPendingJob(), lastWorkerRun(pool)]);
    const oldestAge = oldest ? Math.round(oldest.ageSeconds) : null;
    const queueHealthy = oldestAge === null || oldestAge <= maxPendingAge;
    const workerHealthy = stats.pending === 0 || (worker !== null && worker.ageSeconds <= maxWorkerSilence);
    const healthy = queueHealthy && workerHealthy;
    return Response.json(
      {
        healthy,
        database: true,
        queue: queueHealthy,
        worker: workerHealthy,
        details: {
          database_status: 'ready',
          queue_counts: { waiting: stats.pending, active: stats.processing, completed: stats.completed, failed: stats.failed },
          oldest_pending_age_seconds: oldestAge,
          last_worker_run: worker ? { name: worker.name, at: worker.lastRunAt.toISOString(), age_seconds: Math.round(worker.ageSeconds) } : null,
        },
      },
      { status: healthy ? 200 : 503, headers: { 'cache-control': 'no-store' } },
    );
  } catch (error) {
    console.error('[health] database check failed:', (error as Error).message);
    return Response.json(
      {
        healthy: false,
        database: false,
        queue: false,
        worker: false,
        details: { database_status: 'unreachable', queue_counts: null, oldest_pending_age_seconds: null, last_worker_run: null },
      },
      { status: 503, headers: { 'cache-control': 'no-store' } },
    );
  }
}
