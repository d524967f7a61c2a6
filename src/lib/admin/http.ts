/**
 * The admin API's handlers (app/api/admin/* only call these). Reads need any role (VIEWER and up);
 * retrying or cancelling one job and pausing a type need MANAGER; bulk actions, limits and schedules
 * ADMIN. Mutations are POST and same-origin only. Lists carry job metadata; a job's detail adds
 * its payload and result, each cut at DETAIL_JSON_CAP characters.
 */
import { z } from 'zod';
import { connections } from '@/lib/db/client';
import { badRequest } from '@/lib/http/responses';
import type { Job } from 'pg-conveyor';
import { HISTORY_RANGES, jobTypeSchema, typeLimitsSchema, type HistoryRange } from 'pg-conveyor/console';
import { appLogger } from '@/lib/observability/logger';
import { adminRoute } from './route';

/** A job as admin views show it: everything but the payload. */
export function jobSummary(job: Job) {
  return {
    id: job.id,
    jobType: job.jobType,
    status: job.status,
    priority: job.priority,
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    progress: job.progress,
    result: job.result,
    createdAt: job.createdAt.toISOString(),
    startedAt: job.startedAt?.toISOString() ?? null,
    completedAt: job.completedAt?.toISOString() ?? null,
  };
}

/** Characters of a payload or result a job's detail shows; a bigger one comes as a cut preview. */
export const DETAIL_JSON_CAP = 20_000;

function capped(value: unknown): { value: unknown; truncated: false } | { value: string; truncated: true; size: number } {
  const text = JSON.stringify(value) ?? 'null';
  return text.length <= DETAIL_JSON_CAP ? { value, truncated: false } : { value: text.slice(0, DETAIL_JSON_CAP), truncated: true, size: text.length };
}

export function jobDetail(job: Job) {
  return {
    ...jobSummary(job),
    payload: capped(job.payload),
    result: capped(job.result),
    runAt: job.runAt.toISOString(),
    lockedUntil: job.lockedUntil?.toISOString() ?? null,
    lockedBy: job.lockedBy,
    concurrencyKey: job.concurrencyKey,
    errors: job.errors,
    updatedAt: job.updatedAt.toISOString(),
  };
}

/** GET /api/admin/queue/stats (VIEWER) */
export const handleStatsGet = adminRoute({ name: 'admin/stats', role: 'VIEWER' }, async () => {
  const { queue } = connections();
  const [stats, recent, oldest] = await Promise.all([queue.getQueueStats(), queue.listJobs({ limit: 20 }), queue.oldestPendingJob()]);
  return Response.json({
    queueStats: { pending: stats.pending, processing: stats.processing, completed: stats.completed, failed: stats.failed },
    recentJobs: recent.map(jobSummary),
    oldestPendingJob: oldest ? { id: oldest.id, createdAt: oldest.createdAt.toISOString(), ageMinutes: oldest.ageMinutes } : null,
  });
});

type JobAction = 'retry' | 'cancel';

/** POST /api/admin/queue/{retry,cancel}?jobId= (MANAGER); a missing jobId is the API contract's own 400 */
export const handleJobActionPost = adminRoute({ name: 'admin/job-action', role: 'MANAGER', mutation: true }, async ({ request, user }, action: JobAction) => {
  const jobId = new URL(request.url).searchParams.get('jobId');
  if (!jobId) throw badRequest('Missing jobId parameter');
  const { queue } = connections();
  const job = action === 'retry' ? await queue.retryJob(jobId) : await queue.cancelJob(jobId);
  appLogger().info({ admin: user.email, action, jobId: job.id, jobType: job.jobType }, `admin: job ${action}`);
  return Response.json({ success: true, jobId: job.id });
});

/** GET /api/admin/queue/jobs/:jobId (VIEWER): one job with its payload, result, error history and chain (parentId, childIds) */
export const handleJobDetailGet = adminRoute({ name: 'admin/job', role: 'VIEWER' }, async (_input, jobId: string) => {
  const { queue } = connections();
  const job = await queue.getJob(jobId);
  if (!job) return Response.json({ error: `Job ${jobId} not found` }, { status: 404 });
  return Response.json({ job: { ...jobDetail(job), ...(await queue.console.getJobLinks(job.id)) } });
});

const failedQuery = z.object({
  type: jobTypeSchema.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(25),
  cursor: z.string().max(200).optional(),
});

/** GET /api/admin/queue/failed?type=&limit=&cursor= (VIEWER): the dead letters, newest first */
export const handleFailedGet = adminRoute({ name: 'admin/failed', role: 'VIEWER', query: failedQuery }, async ({ query }) => {
  const page = await connections().queue.console.listFailedJobs({ jobType: query.type, limit: query.limit, cursor: query.cursor });
  return Response.json({
    jobs: page.jobs.map((job) => ({ ...jobSummary(job), lastError: job.errors.at(-1)?.message ?? null })),
    nextCursor: page.nextCursor,
  });
});

const throughputQuery = z
  .object({ range: z.enum(Object.keys(HISTORY_RANGES) as [HistoryRange, ...HistoryRange[]]).default('1h'), type: jobTypeSchema.optional() })
  .strict();

/**
 * GET /api/admin/queue/throughput?range=1h|24h|7d&type= (VIEWER): completed, failed and cancelled
 * jobs per minute (1h), 15 minutes (24h) or hour (7d), from the counted history, so retries and
 * cleanup do not change it.
 */
export const handleThroughputGet = adminRoute({ name: 'admin/throughput', role: 'VIEWER', query: throughputQuery }, async ({ query }) => {
  const history = await connections().queue.console.getHistory({ range: query.range, jobType: query.type });
  return Response.json({
    range: history.range,
    bucketMinutes: history.bucketMinutes,
    since: history.since.toISOString(),
    points: history.points.map((p) => ({ minute: p.at.toISOString(), completed: p.completed, failed: p.failed, cancelled: p.cancelled })),
  });
});

const pauseBody = z.object({ jobType: jobTypeSchema, paused: z.boolean() }).strict();

/** POST /api/admin/queue/pause {jobType, paused} (MANAGER): pause or resume a job type everywhere at once */
export const handlePausePost = adminRoute(
  { name: 'admin/pause', role: 'MANAGER', mutation: true, body: pauseBody, expected: '{ jobType, paused }' },
  async ({ user, body: { jobType, paused } }) => {
    const { queue } = connections();
    const changed = paused ? await queue.pauseType(jobType, { by: user.email }) : await queue.resumeType(jobType);
    appLogger().info({ admin: user.email, jobType, paused, changed }, `admin: job type ${paused ? 'paused' : 'resumed'}`);
    return Response.json({ success: true, jobType, paused, changed });
  },
);

/** GET /api/admin/queue/paused (VIEWER): the paused types, who paused them and since when */
export const handlePausedGet = adminRoute({ name: 'admin/paused', role: 'VIEWER' }, async () => {
  const paused = await connections().queue.pausedTypes();
  return Response.json({ paused: paused.map((p) => ({ jobType: p.jobType, pausedAt: p.pausedAt.toISOString(), pausedBy: p.pausedBy })) });
});

/** GET /api/admin/queue/schedules (VIEWER): each schedule, its last run and that job's status, its next run */
export const handleSchedulesGet = adminRoute({ name: 'admin/schedules', role: 'VIEWER' }, async () => {
  const schedules = await connections().queue.schedules.list();
  return Response.json({
    schedules: schedules.map((s) => ({ ...s, lastRunAt: s.lastRunAt?.toISOString() ?? null, nextRunAt: s.nextRunAt?.toISOString() ?? null })),
  });
});

const scheduleAction = z.object({ name: z.string().min(1).max(100), action: z.enum(['pause', 'resume', 'run']) }).strict();

/** POST /api/admin/queue/schedules {name, action: pause|resume|run} (ADMIN): pause, resume or run a schedule now */
export const handleSchedulePost = adminRoute(
  { name: 'admin/schedules', role: 'ADMIN', mutation: true, body: scheduleAction, expected: '{ name, action }' },
  async ({ user, body: { name, action } }) => {
    const { schedules } = connections().queue;
    const done =
      action === 'run' ? ((await schedules.runNow(name))?.id ?? null) : action === 'pause' ? await schedules.pause(name) : await schedules.resume(name);
    if (!done) return Response.json({ error: `Schedule ${name} not found` }, { status: 404 });
    appLogger().info({ admin: user.email, schedule: name, action }, `admin: schedule ${action}`);
    return Response.json({ success: true, name, action, ...(action === 'run' ? { jobId: done } : {}) });
  },
);

/** GET /api/admin/queue/types (VIEWER): per job type, counts, the last hour's throughput, failure rate and run times, waits, limits, pause */
export const handleTypesGet = adminRoute({ name: 'admin/types', role: 'VIEWER' }, async () =>
  Response.json({ types: await connections().queue.console.typeStats() }),
);

const limitsBody = typeLimitsSchema.extend({ jobType: jobTypeSchema }).required();

/**
 * POST /api/admin/queue/limits {jobType, concurrency, rate} (ADMIN): sets a type's limits for every
 * worker and cron tick at once; null for both removes them. Same values again change nothing.
 */
export const handleLimitsPost = adminRoute(
  {
    name: 'admin/limits',
    role: 'ADMIN',
    mutation: true,
    body: limitsBody,
    expected: '{ jobType, concurrency: number | null, rate: { limit, periodMs } | null }',
  },
  async ({ user, body: { jobType, concurrency, rate } }) => {
    await connections().queue.setTypeLimits(jobType, { concurrency, rate });
    appLogger().info({ admin: user.email, jobType, concurrency, rate }, 'admin: type limits set');
    return Response.json({ success: true, jobType, concurrency, rate });
  },
);
