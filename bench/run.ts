/**
 * `npm run bench`: Conveyor's throughput next to a raw-SQL loop doing the same work, in one run on
 * one database, so the ratios hold on a noisy machine where absolute numbers do not.
 *
 *   BENCH_JOBS=20000 BENCH_WORKERS=10 npm run bench
 */
import pg from 'pg';
import { resolveDatabaseUrl } from '../scripts/db/local-postgres.mjs';
import { migrate } from '../src/lib/db/migrations';
import { DatabaseQueue } from '../src/lib/queue/db-queue';
import { Worker } from '../src/lib/queue/worker';
import { freshDatabase, percentile } from './bench-db';
import { RAW_SCHEMA, rawEnqueue, rawWorker } from './raw-loop';

const JOBS = Number(process.env.BENCH_JOBS ?? 20_000);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 10);
const BATCH = Number(process.env.BENCH_BATCH ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);

const adminUrl = await resolveDatabaseUrl();
const benchUrl = await freshDatabase(adminUrl, 'conveyor_bench');
await migrate({ connectionString: benchUrl });
const pool = new pg.Pool({ connectionString: benchUrl, max: WORKERS + 2 });

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function reset(): Promise<void> {
  await pool.query(`TRUNCATE job_queue; ${RAW_SCHEMA}`);
  await pool.query('VACUUM ANALYZE job_queue');
}

/** One pool of one connection per worker, as separate processes or invocations would have. */
function workerQueues(): DatabaseQueue[] {
  return Array.from({ length: WORKERS }, (_, w) =>
    new DatabaseQueue({ connectionString: benchUrl, poolMax: 1, workerId: `bench-${w}` }));
}

async function conveyorDrain(batch: number): Promise<number> {
  const queues = workerQueues();
  try {
    const counts = await Promise.all(queues.map(async (queue) => {
      let done = 0;
      for (;;) {
        const jobs = await queue.claimJobs(['BENCH'], batch);
        if (jobs.length === 0) return done;
        for (const job of jobs) await queue.completeJob(job, { ok: true });
        done += jobs.length;
      }
    }));
    return counts.reduce((a, b) => a + b, 0);
  } finally {
    await Promise.all(queues.map((q) => q.close()));
  }
}

async function rawDrain(batch: number): Promise<number> {
  const pools = Array.from({ length: WORKERS }, () => new pg.Pool({ connectionString: benchUrl, max: 1 }));
  try {
    return (await Promise.all(pools.map((p) => rawWorker(p, batch)))).reduce((a, b) => a + b, 0);
  } finally {
    await Promise.all(pools.map((p) => p.end()));
  }
}

const enqueueQueue = new DatabaseQueue({ pool });
const enqueueConveyor = () => enqueueQueue.enqueueMany(
  Array.from({ length: JOBS }, (_, n) => ({ jobType: 'BENCH', payload: { n } })),
);
async function enqueueConveyorChunked() {
  for (let i = 0; i < JOBS; i += 1_000) {
    await enqueueQueue.enqueueMany(Array.from({ length: Math.min(1_000, JOBS - i) }, (_, k) => ({ jobType: 'BENCH', payload: { n: i + k } })));
  }
}

interface Row { name: string; conveyor: number; raw: number }
const results: Row[] = [];
const best = (xs: number[]) => Math.min(...xs);

console.log(`bench: ${JOBS} jobs, ${WORKERS} workers, batch ${BATCH}, best of ${ROUNDS} rounds (2-core machine: read the ratios)`);

// Enqueue: bulk insert of JOBS jobs in chunks of 1,000 (one statement each).
{
  const c: number[] = [], r: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    await reset();
    r.push(await timed(() => rawEnqueue(pool, JOBS, 1_000)));
    c.push(await timed(enqueueConveyorChunked));
  }
  results.push({ name: 'enqueue bulk (1,000 per statement)', conveyor: JOBS / best(c), raw: JOBS / best(r) });
}

for (const batch of [1, BATCH]) {
  const c: number[] = [], r: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    await reset();
    await rawEnqueue(pool, JOBS, 1_000);
    await enqueueConveyor();
    await pool.query('ANALYZE');
    // Alternate which goes first so neither always gets the warmer cache.
    const order = round % 2 === 0 ? ['raw', 'conveyor'] : ['conveyor', 'raw'];
    for (const which of order) {
      if (which === 'raw') r.push(await timed(async () => { if ((await rawDrain(batch)) !== JOBS) throw new Error('raw loop lost jobs'); }));
      else c.push(await timed(async () => { if ((await conveyorDrain(batch)) !== JOBS) throw new Error('conveyor lost jobs'); }));
    }
  }
  results.push({ name: `claim+complete, ${WORKERS} workers, batch ${batch}`, conveyor: JOBS / best(c), raw: JOBS / best(r) });
}

// The worker process: enqueue-to-start latency (LISTEN/NOTIFY) and throughput at concurrency 10.
const latency: number[] = [];
let workerRate = 0;
{
  await reset();
  const workerQueue = new DatabaseQueue({ connectionString: benchUrl, poolMax: WORKERS + 2 });
  let started: (() => void) | null = null;
  const latencyWorker = new Worker({
    queue: workerQueue,
    connectionString: benchUrl,
    pollIntervalMs: 60_000, // only NOTIFY can wake it in time
    handlers: { LATENCY: async () => started?.() },
  });
  await latencyWorker.start();
  const enqueuer = new DatabaseQueue({ connectionString: benchUrl, poolMax: 1 });
  for (let i = 0; i < 300; i++) {
    await new Promise((r) => setTimeout(r, 5));
    const begin = process.hrtime.bigint();
    const running = new Promise<void>((resolve) => (started = resolve));
    await enqueuer.enqueue({ jobType: 'LATENCY' });
    await running;
    latency.push(Number(process.hrtime.bigint() - begin) / 1e6);
  }
  await latencyWorker.stop();
  await enqueuer.close();

  const rounds: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    await reset();
    await enqueueConveyor();
    await pool.query('VACUUM ANALYZE job_queue');
    let done = 0;
    let finished: () => void = () => {};
    const allDone = new Promise<void>((resolve) => (finished = resolve));
    const throughputWorker = new Worker({
      queue: workerQueue,
      connectionString: benchUrl,
      handlers: { BENCH: { concurrency: WORKERS, handler: async () => { if (++done === JOBS) finished(); return { ok: true }; } } },
    });
    rounds.push(await timed(async () => {
      await throughputWorker.start();
      await allDone;
    }));
    await throughputWorker.stop();
  }
  const seconds = best(rounds);
  workerRate = JOBS / seconds;
  await workerQueue.close();
}

// Stats at scale: the admin page and /api/metrics call these every few seconds.
const STATS_ROWS = Number(process.env.BENCH_STATS_ROWS ?? 1_000_000);
const statsTimings: { name: string; ms: number }[] = [];
{
  await pool.query('TRUNCATE job_queue');
  await pool.query(
    `INSERT INTO job_queue (job_type, status, attempts, payload, result, started_at, completed_at, locked_until)
     SELECT (ARRAY['INGEST_DATA', 'VECTORIZE', 'EMAIL'])[1 + g % 3],
            s.status::"JobStatus",
            CASE WHEN s.status = 'PENDING' THEN 0 ELSE 1 END,
            CASE WHEN s.status IN ('PENDING', 'PROCESSING') THEN '{"n":1}'::jsonb END,
            CASE WHEN s.status = 'COMPLETED' THEN '{"ok":true}'::jsonb END,
            CASE WHEN s.status <> 'PENDING' THEN now() END,
            CASE WHEN s.status IN ('COMPLETED', 'FAILED', 'CANCELLED') THEN now() - (g % 10080) * interval '1 minute' END,
            CASE WHEN s.status = 'PROCESSING' THEN now() + interval '5 minutes' END
       FROM generate_series(1, $1) g,
            LATERAL (SELECT CASE WHEN g % 100 = 0 THEN 'PENDING' WHEN g % 1000 = 1 THEN 'PROCESSING'
                                 WHEN g % 25 = 0 THEN 'FAILED' WHEN g % 500 = 3 THEN 'CANCELLED' ELSE 'COMPLETED' END AS status) s`,
    [STATS_ROWS],
  );
  await pool.query('VACUUM ANALYZE job_queue');
  const statsQueue = new DatabaseQueue({ connectionString: benchUrl, poolMax: 1 });
  const median = async (name: string, fn: () => Promise<unknown>, runs = 15) => {
    const times: number[] = [];
    for (let i = 0; i < runs; i++) times.push(await timed(fn));
    times.sort((a, b) => a - b);
    statsTimings.push({ name, ms: times[Math.floor(times.length / 2)]! * 1000 });
  };
  await median('getQueueStats()', () => statsQueue.getQueueStats());
  await median('getQueueStats({ exact: true })', () => statsQueue.getQueueStats({ exact: true }), 3);
  await median('oldestPendingJob()', () => statsQueue.oldestPendingJob());
  await median('listJobs({ limit: 20 })', () => statsQueue.listJobs({ limit: 20 }));
  await median('listFailedJobs({ limit: 25 })', () => statsQueue.listFailedJobs({ limit: 25 }));
  await median('countActiveByType()', () => statsQueue.countActiveByType());
  await median('getThroughput(60)', () => statsQueue.getThroughput(60));
  await statsQueue.close();
}

const pad = (s: string, n: number) => s.padEnd(n);
console.log(`\n${pad('benchmark', 42)}${pad('conveyor jobs/s', 17)}${pad('raw SQL jobs/s', 16)}ratio`);
for (const row of results) {
  console.log(`${pad(row.name, 42)}${pad(row.conveyor.toFixed(0), 17)}${pad(row.raw.toFixed(0), 16)}${(row.conveyor / row.raw * 100).toFixed(0)} %`);
}
// The worker claims for all its free slots at once (one claim often serves several), so it is set
// next to both raw loops: one claim per job, and claims of BATCH.
for (const row of results.filter((r) => r.name.startsWith('claim+complete'))) {
  const name = `worker process (vs raw ${row.name.split(', ').at(-1)})`;
  console.log(`${pad(name, 42)}${pad(workerRate.toFixed(0), 17)}${pad(row.raw.toFixed(0), 16)}${(workerRate / row.raw * 100).toFixed(0)} %`);
}
console.log(`\nworker enqueue-to-start latency over ${latency.length} jobs (LISTEN/NOTIFY): p50 ${percentile(latency, 50).toFixed(2)} ms, p95 ${percentile(latency, 95).toFixed(2)} ms, p99 ${percentile(latency, 99).toFixed(2)} ms`);
console.log(`\nreads at ${STATS_ROWS.toLocaleString('en')} jobs (median)`);
for (const { name, ms } of statsTimings) console.log(`${pad(name, 42)}${ms.toFixed(1)} ms`);
await enqueueQueue.close().catch(() => {});
await pool.end();
