/**
 * GET /api/health/queue: is the database reachable, is the queue moving, are workers running?
 * Unhealthy (503) when the database does not answer, when the due job waiting longest has waited more
 * than HEALTH_MAX_PENDING_AGE_S (default 600 s) past its run_at, or when jobs are waiting and no worker has run for
 * HEALTH_MAX_WORKER_SILENCE_S (default 300 s).
 *
 * A transaction open longer than HEALTH_MAX_SNAPSHOT_AGE_S (default 600 s) holds back vacuum, so
 * finished and deleted jobs' dead rows pile up: it is reported (`vacuum: false` and "vacuum is
 * blocked by pid N since T" in the details, and a warning in the log) but does not make the answer
 * 503, because the queue itself keeps working.
 *
 * Anyone may ask whether it is up: the answer is `{ healthy }` and the status code. The details
 * (counts, the oldest wait, the last worker's name) go only to a caller holding METRICS_TOKEN. The
 * check itself (three queries) runs at most once per HEALTH_CACHE_MS (default 5,000 ms) per
 * process, so a flood of probes costs the database nothing more.
 */
import { checkBearer } from '@/lib/http/secrets';
import { connections } from '@/lib/db/client';
import { lastWorkerRun } from './heartbeat';
import { appLogger } from './logger';

const seconds = (name: string, fallback: number) => {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
};

interface HealthReport {
  status: 200 | 503;
  body: { healthy: boolean } & Record<string, unknown>;
}

let cached: { at: number; report: Promise<HealthReport> } | null = null;

export async function handleHealthGet(request: Request): Promise<Response> {
  const cacheMs = Number(process.env.HEALTH_CACHE_MS ?? 5_000);
  if (!cached || Date.now() - cached.at >= cacheMs) cached = { at: Date.now(), report: checkHealth() };
  const { status, body } = await cached.report;
  // Details only for the metrics token's holder; no token configured means no details for anyone.
  const auth = checkBearer(request, 'METRICS_TOKEN', process.env, () => false);
  const answer = auth.ok ? body : { healthy: body.healthy };
  return Response.json(answer, { status, headers: { 'cache-control': 'no-store' } });
}

async function checkHealth(): Promise<HealthReport> {
  const maxPendingAge = seconds('HEALTH_MAX_PENDING_AGE_S', 600);
  const maxWorkerSilence = seconds('HEALTH_MAX_WORKER_SILENCE_S', 300);
  const maxSnapshotAge = seconds('HEALTH_MAX_SNAPSHOT_AGE_S', 600);
  try {
    const { queue, pool } = connections();
    const [stats, oldest, worker, holder] = await Promise.all([
      queue.getQueueStats(),
      queue.oldestPendingJob(),
      lastWorkerRun(pool),
      queue.oldestSnapshotHolder(),
    ]);
    const blocker = holder && holder.ageSeconds > maxSnapshotAge ? holder : null;
    if (blocker)
      appLogger().warn({ pid: blocker.pid, since: blocker.since, application: blocker.applicationName }, 'health: a long transaction holds back vacuum');
    const oldestAge = oldest ? Math.round(oldest.ageSeconds) : null;
    const queueHealthy = oldestAge === null || oldestAge <= maxPendingAge;
    const workerHealthy = stats.pending === 0 || (worker !== null && worker.ageSeconds <= maxWorkerSilence);
    const healthy = queueHealthy && workerHealthy;
    return {
      status: healthy ? 200 : 503,
      body: {
        healthy,
        database: true,
        queue: queueHealthy,
        worker: workerHealthy,
        vacuum: blocker === null,
        details: {
          database_status: 'ready',
          queue_counts: { waiting: stats.pending, active: stats.processing, completed: stats.completed, failed: stats.failed },
          oldest_pending_age_seconds: oldestAge,
          last_worker_run: worker ? { name: worker.name, at: worker.lastRunAt.toISOString(), age_seconds: Math.round(worker.ageSeconds) } : null,
          vacuum_blocked_by: blocker && {
            message: `vacuum is blocked by ${blocker.kind === 'prepared' ? `prepared transaction ${blocker.applicationName}` : `pid ${blocker.pid}`} since ${blocker.since.toISOString()}`,
            kind: blocker.kind,
            pid: blocker.pid,
            since: blocker.since.toISOString(),
            age_seconds: Math.round(blocker.ageSeconds),
            state: blocker.state,
            application_name: blocker.applicationName,
            query: blocker.query,
          },
        },
      },
    };
  } catch (error) {
    appLogger().warn({ error: (error as Error).message }, 'health: database check failed');
    return {
      status: 503,
      body: {
        healthy: false,
        database: false,
        queue: false,
        worker: false,
        vacuum: false,
        details: { database_status: 'unreachable', queue_counts: null, oldest_pending_age_seconds: null, last_worker_run: null, vacuum_blocked_by: null },
      },
    };
  }
}
