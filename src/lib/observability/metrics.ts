/**
 * Prometheus metrics (prom-client). Queue depth and ages are read from the database at scrape
 * time, so they are true for the whole fleet; counters and the duration histogram count what this
 * process did (sum them across instances in PromQL).
 */
import client from 'prom-client';
import type { DatabaseQueue } from 'pg-conveyor';
import type { Job } from 'pg-conveyor';
import { checkBearer } from '@/lib/http/secrets';
import { appLogger } from './logger';

interface Metrics {
  registry: client.Registry;
  counters: ReturnType<typeof counters>;
  queue?: DatabaseQueue;
}

const cache = globalThis as typeof globalThis & { __conveyorMetrics?: Metrics };

const counters = (registry: client.Registry) => ({
  enqueued: new client.Counter({ name: 'conveyor_jobs_enqueued_total', help: 'Jobs enqueued by this process', labelNames: ['type'], registers: [registry] }),
  completed: new client.Counter({ name: 'conveyor_jobs_completed_total', help: 'Jobs completed by this process', labelNames: ['type'], registers: [registry] }),
  failed: new client.Counter({
    name: 'conveyor_jobs_failed_total',
    help: 'Failed attempts in this process (final="true": the job is now FAILED)',
    labelNames: ['type', 'final'],
    registers: [registry],
  }),
  duration: new client.Histogram({
    name: 'conveyor_job_duration_seconds',
    help: 'Run time of attempts finished by this process, from claim to outcome',
    labelNames: ['type', 'outcome'],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 30, 60, 300],
    registers: [registry],
  }),
});

function build(): Metrics {
  const registry = new client.Registry();
  const metrics: Metrics = { registry, counters: counters(registry) };
  // prom-client calls `collect` with the metric as `this` at each scrape.
  const onScrape = (fn: (gauge: client.Gauge, queue: DatabaseQueue) => Promise<void>) =>
    async function (this: client.Gauge) {
      if (metrics.queue) await fn(this, metrics.queue);
    };

  new client.Gauge({
    name: 'conveyor_jobs',
    help: 'Jobs by status (finished counts are estimates on large tables)',
    labelNames: ['status'],
    registers: [registry],
    collect: onScrape(async (gauge, queue) => {
      const stats = await queue.getQueueStats();
      for (const status of ['pending', 'processing', 'completed', 'failed', 'cancelled'] as const) {
        gauge.set({ status: status.toUpperCase() }, stats[status]);
      }
    }),
  });
  new client.Gauge({
    name: 'conveyor_jobs_active',
    help: 'PENDING and PROCESSING jobs by type (queue depth and work in progress)',
    labelNames: ['type', 'status'],
    registers: [registry],
    collect: onScrape(async (gauge, queue) => {
      gauge.reset();
      for (const row of await queue.countActiveByType()) gauge.set({ type: row.jobType, status: row.status }, row.count);
    }),
  });
  new client.Gauge({
    name: 'conveyor_oldest_pending_age_seconds',
    help: 'How long the due job waiting longest has waited, from its run_at (0 when none)',
    registers: [registry],
    collect: onScrape(async (gauge, queue) => {
      const oldest = await queue.oldestPendingJob();
      gauge.set(oldest ? oldest.ageSeconds : 0);
    }),
  });
  client.collectDefaultMetrics({ register: registry, prefix: 'conveyor_process_' });
  return metrics;
}

const runSeconds = (job: Job) => (job.startedAt ? Math.max(0, (job.updatedAt.getTime() - job.startedAt.getTime()) / 1000) : 0);

/** Registers the queue whose events feed the counters and whose database the gauges read. */
export function instrumentQueue(queue: DatabaseQueue): void {
  const metrics = (cache.__conveyorMetrics ??= build());
  if (metrics.queue === queue) return;
  metrics.queue = queue;
  const c = metrics.counters;
  queue.events.on('job:enqueued', (jobs) => jobs.forEach((job) => c.enqueued.inc({ type: job.jobType })));
  queue.events.on('job:completed', (job) => {
    c.completed.inc({ type: job.jobType });
    c.duration.observe({ type: job.jobType, outcome: 'completed' }, runSeconds(job));
  });
  queue.events.on('job:failed', (job, { willRetry }) => {
    c.failed.inc({ type: job.jobType, final: String(!willRetry) });
    c.duration.observe({ type: job.jobType, outcome: 'failed' }, runSeconds(job));
  });
}

/**
 * GET /api/metrics: Prometheus text format, for a scraper holding METRICS_TOKEN (`Bearer <token>`).
 * In production the token is required (unset: 500, nothing exposed); elsewhere an unset token
 * leaves the endpoint open for local use.
 */
export async function handleMetricsGet(request: Request): Promise<Response> {
  const auth = checkBearer(request, 'METRICS_TOKEN', process.env, (env) => env.NODE_ENV !== 'production');
  if (!auth.ok) return new Response(`${auth.error}\n`, { status: auth.status });
  const metrics = (cache.__conveyorMetrics ??= build());
  try {
    return new Response(await metrics.registry.metrics(), { headers: { 'content-type': metrics.registry.contentType } });
  } catch (error) {
    appLogger().warn({ error: (error as Error).message }, 'metrics: scrape failed');
    return new Response('# metrics unavailable: database error\n', { status: 503 });
  }
}
