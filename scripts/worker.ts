/**
 * `npm run worker`: the long-running worker for the app's job types, for when a once-a-minute cron
 * is not enough. Wakes on NOTIFY within milliseconds; polls every WORKER_POLL_MS (1 s) as well.
 *
 *   WORKER_CONCURRENCY=2                 jobs at once per type (default 2)
 *   WORKER_CONCURRENCY_VECTORIZE=1       per type
 *   WORKER_TIMEOUT_MS_INGEST_DATA=60000  per-type timeout (default 5 min)
 *   WORKER_LISTEN=false                  polling only (PgBouncer in transaction mode)
 *
 * SIGTERM or SIGINT: stop claiming, give running jobs 30 s, release the rest, exit 0.
 */
import { connections, closeConnections } from '../src/lib/db/client';
import { recordWorkerRun } from '../src/lib/observability/heartbeat';
import { appLogger } from '../src/lib/observability/logger';
import { APP_HANDLERS } from '../src/lib/workers/handlers';
import { DEFAULTS } from 'pg-conveyor';
import { Worker, type JobTaskDefinition } from 'pg-conveyor/worker';
import { resolveDatabaseUrl } from './db/local-postgres.mjs';

process.env.DATABASE_URL = await resolveDatabaseUrl();
const { pool, queue } = connections();

const perType = (type: string, handler: JobTaskDefinition['handler']): JobTaskDefinition => ({
  handler,
  concurrency: Number(process.env[`WORKER_CONCURRENCY_${type}`] ?? process.env.WORKER_CONCURRENCY ?? 2),
  timeoutMs: Number(process.env[`WORKER_TIMEOUT_MS_${type}`] ?? DEFAULTS.jobTimeoutMs),
});

const worker = new Worker({
  queue,
  connectionString: process.env.DATABASE_URL,
  listen: process.env.WORKER_LISTEN !== 'false',
  pollIntervalMs: Number(process.env.WORKER_POLL_MS ?? 1_000),
  // The same handlers as the cron routes. One project's vectorization at a time is enforced by the
  // jobs' concurrency key, across all workers.
  handlers: Object.fromEntries(Object.entries(APP_HANDLERS).map(([type, handler]) => [type, perType(type, handler)])),
});
// The worker logs through the queue's logger (the app's: readable in development, JSON in
// production): failures, lost leases, LISTEN lost and back, start and stop; LOG_LEVEL=debug adds a
// line per job started and ended.
const log = appLogger();
await worker.start();
const beat = setInterval(() => void recordWorkerRun(pool, 'worker-process', worker.running).catch(() => {}), 15_000);
void recordWorkerRun(pool, 'worker-process', worker.running).catch(() => {});

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'finishing running jobs (up to 30 s), then exiting');
  clearInterval(beat);
  await worker.stop();
  await closeConnections();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
