/** Per job type: what an operator reads first (counts, the last hour's figures, limits, pause, handlers). */
import { nowParam } from '../core/clock.js';
import type { QueueCore } from '../core/queue-core.js';
import { jobActivePerTypeCapped, jobOldestDuePerType, jobTypeLastHour } from '../sql/jobs-read.js';
import { typeHandlersList, typeLimitList, typePausedList } from '../sql/type-limits.js';

export interface TypeStats {
  jobType: string;
  /** Waiting jobs, counted up to TYPE_STATS_PENDING_CAP (then `pendingAtLeast`). */
  pending: number;
  pendingAtLeast: boolean;
  processing: number;
  /** Finished in the last hour. */
  completedLastHour: number;
  failedLastHour: number;
  /** failed / (completed + failed) in the last hour; null with none finished. */
  failureRate: number | null;
  /** Run time (claim to completion) of the last hour's completed jobs, ms. */
  p50Ms: number | null;
  p95Ms: number | null;
  /** How long its longest-waiting due job has waited (from when it became due). */
  oldestWaitingSeconds: number | null;
  limits: { concurrency: number | null; rate: { limit: number; periodMs: number } | null } | null;
  paused: boolean;
  /** When a worker or drain last said it handles the type (null: never). */
  handledAt: Date | null;
  /** Jobs wait and nothing has said it handles the type within TYPE_HANDLED_WITHIN_MS. */
  unhandled: boolean;
}

/** A type whose jobs wait and that no worker or drain has claimed for in this long is shown as unhandled. */
export const TYPE_HANDLED_WITHIN_MS = 15 * 60_000;

export const TYPE_STATS_PENDING_CAP = 10_000;

/** Per job type (every type with active jobs, recent finishes, limits or a pause): what an operator reads first. */
export async function typeStats(core: QueueCore): Promise<TypeStats[]> {
  const now = nowParam(core.clock);
  const [active, hour, oldest, limits, paused, handlers] = await Promise.all([
    jobActivePerTypeCapped(core.db, { cap: TYPE_STATS_PENDING_CAP }),
    jobTypeLastHour(core.db, { now }),
    jobOldestDuePerType(core.db, { now }),
    typeLimitList(core.db),
    typePausedList(core.db),
    typeHandlersList(core.db, { withinMs: TYPE_HANDLED_WITHIN_MS, now }),
  ]);
  const handler = (jobType: string) => handlers.find((r) => r.job_type === jobType);
  const types = new Set([...active.map((r) => r.job_type), ...hour.map((r) => r.job_type), ...limits.map((r) => r.job_type), ...paused.map((r) => r.job_type)]);
  return [...types].sort().map((jobType) => {
    const a = active.find((r) => r.job_type === jobType);
    const h = hour.find((r) => r.job_type === jobType);
    const l = limits.find((r) => r.job_type === jobType);
    const done = (h?.completed ?? 0) + (h?.failed ?? 0);
    return {
      jobType,
      pending: a?.pending ?? 0,
      pendingAtLeast: (a?.pending ?? 0) >= TYPE_STATS_PENDING_CAP,
      processing: a?.processing ?? 0,
      completedLastHour: h?.completed ?? 0,
      failedLastHour: h?.failed ?? 0,
      failureRate: done > 0 ? (h?.failed ?? 0) / done : null,
      p50Ms: h?.p50_ms ?? null,
      p95Ms: h?.p95_ms ?? null,
      oldestWaitingSeconds: oldest.find((r) => r.job_type === jobType)?.age_seconds ?? null,
      limits: l ? { concurrency: l.max_running, rate: l.rate_limit && l.rate_period_ms ? { limit: l.rate_limit, periodMs: l.rate_period_ms } : null } : null,
      paused: paused.some((r) => r.job_type === jobType),
      handledAt: handler(jobType)?.seen_at ?? null,
      unhandled: (a?.pending ?? 0) > 0 && !handler(jobType)?.recent,
    };
  });
}
