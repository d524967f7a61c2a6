/**
 * `npm run bench:soak`: a million jobs through enqueue, claim, complete and cleanup, the way a busy
 * queue lives for hours: a producer keeps a backlog, workers drain it, retention deletes what
 * finished, autovacuum does the rest. A queue table that bloats gets slower to claim from as it
 * goes, so the figure that matters is the claim latency at the end next to the start (goal:
 * within 2x), with the dead tuples and the table's size beside it.
 *
 *   SOAK_JOBS=1000000 SOAK_WORKERS=8 npm run bench:soak
 *   SOAK_UNTUNED=1 npm run bench:soak    # the same with the table's storage settings reset
 */
import pg from 'pg';
import { resolveDatabaseUrl } from '../scripts/db/local-postgres.mjs';
import { migrate } from '../src/lib/db/migrations';
import { DatabaseQueue } from '../src/lib/queue/db-queue';
import { freshDatabase, percentile } from './bench-db';

const JOBS = Number(process.env.SOAK_JOBS ?? 1_000_000);
const WORKERS = Number(process.env.SOAK_WORKERS ?? 8);
/** The producer tops the backlog up to this many PENDING jobs. */
const BACKLOG = Number(process.env.SOAK_BACKLOG ?? 20_000);
/** Retention: how often cleanup runs, and how long finished jobs are kept. */
const CLEANUP_EVERY_MS = 2_000;
const KEEP_FINISHED_MS = 5_000;
const UNTUNED = process.env.SOAK_UNTUNED === '1';
/** Latency is compared over the first and the last this-many jobs. */
const WINDOW = Math.min(100_000, Math.floor(JOBS / 10));

const url = await freshDatabase(await resolveDatabaseUrl(), 'conveyor_soak');
await migrate({ connectionString: url });
const admin = new pg.Pool({ connectionString: url, max: 2 });
if (UNTUNED) {
  await admin.query(`ALTER TABLE job_queue RESET (fillfactor, autovacuum_vacuum_scale_factor,
    autovacuum_analyze_scale_factor, autovacuum_vacuum_cost_delay)`);
}

interface TableState {
  at: number;
  done: number;
  live: number;
  dead: number;
  tableMb: number;
  indexesMb: number;
  autovacuums: number;
}

async function tableState(done: number): Promise<TableState> {
  const { rows } = await admin.query(
    `SELECT n_live_tup::int AS live, n_dead_tup::int AS dead, autovacuum_count::int AS autovacuums,
            pg_table_size('job_queue') AS table_bytes, pg_indexes_size('job_queue') AS index_bytes
       FROM pg_stat_user_tables WHERE relname = 'job_queue'`,
  );
  const r = rows[0];
  return {
    at: Date.now(), done, live: r.live, dead: r.dead, autovacuums: r.autovacuums,
    tableMb: Number(r.table_bytes) / 2 ** 20, indexesMb: Number(r.index_bytes) / 2 ** 20,
  };
}

let enqueued = 0;
let completed = 0;
let cleaned = 0;
let producing = true;
/** Claim latency in ms by the order in which claims returned a job. */
const claimMs: number[] = [];

async function producer(): Promise<void> {
  const queue = new DatabaseQueue({ connectionString: url, poolMax: 1 });
  try {
    while (enqueued < JOBS) {
      if (enqueued - completed >= BACKLOG) {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      const n = Math.min(1_000, JOBS - enqueued);
      await queue.enqueueMany(Array.from({ length: n }, (_, k) => ({ jobType: 'SOAK', payload: { n: enqueued + k } })));
      enqueued += n;
    }
  } finally {
    producing = false;
    await queue.close();
  }
}

async function worker(w: number): Promise<void> {
  const queue = new DatabaseQueue({ connectionString: url, poolMax: 1, workerId: `soak-${w}` });
  try {
    while (completed < JOBS) {
      const start = process.hrtime.bigint();
      const job = await queue.claimJob(['SOAK']);
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (!job) {
        if (!producing && completed >= JOBS) return;
        await new Promise((r) => setTimeout(r, 2));
        continue;
      }
      claimMs.push(ms);
      await queue.completeJob(job, { ok: true });
      completed++;
    }
  } finally {
    await queue.close();
  }
}

async function retention(): Promise<void> {
  const queue = new DatabaseQueue({ connectionString: url, poolMax: 1 });
  try {
    while (completed < JOBS) {
      await new Promise((r) => setTimeout(r, CLEANUP_EVERY_MS));
      cleaned += await queue.cleanup(KEEP_FINISHED_MS / 86_400_000);
    }
  } finally {
    await queue.close();
  }
}

const samples: TableState[] = [];
let sampling = true;
async function sampler(): Promise<void> {
  let reported = 0;
  let lastProgress = { done: -1, at: Date.now() };
  while (sampling) {
    const state = await tableState(completed);
    // A lost job would leave the workers waiting for ever: say so instead of hanging.
    if (state.done !== lastProgress.done) lastProgress = { done: state.done, at: state.at };
    else if (state.at - lastProgress.at > 60_000) {
      console.error(`soak: no job completed for 60 s at ${state.done.toLocaleString('en')} of ${JOBS.toLocaleString('en')}`);
      process.exit(1);
    }
    samples.push(state);
    if (state.done >= reported + JOBS / 10) {
      reported = state.done;
      console.log(`  ${state.done.toLocaleString('en')} done: ${state.dead.toLocaleString('en')} dead tuples, table ${state.tableMb.toFixed(1)} MB, indexes ${state.indexesMb.toFixed(1)} MB`);
    }
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

console.log(`soak: ${JOBS.toLocaleString('en')} jobs, ${WORKERS} workers, backlog ${BACKLOG.toLocaleString('en')}, ` +
  `cleanup every ${CLEANUP_EVERY_MS / 1000} s keeping ${KEEP_FINISHED_MS / 1000} s, table settings ${UNTUNED ? 'RESET (Postgres defaults)' : 'as migrated'}`);
const started = Date.now();
const sampling$ = sampler();
await Promise.all([producer(), retention(), ...Array.from({ length: WORKERS }, (_, w) => worker(w))]);
const seconds = (Date.now() - started) / 1000;
sampling = false;
await sampling$;
const afterCleanup = await new DatabaseQueue({ pool: admin }).cleanup(0);

const first = claimMs.slice(0, WINDOW);
const last = claimMs.slice(-WINDOW);
const fmt = (xs: number[]) => `p50 ${percentile(xs, 50).toFixed(2)} ms, p95 ${percentile(xs, 95).toFixed(2)} ms, p99 ${percentile(xs, 99).toFixed(2)} ms`;
// Table state over the first and the last tenth of the run: the worst each saw.
const firstSamples = samples.filter((s) => s.done <= JOBS / 10);
const lastSamples = samples.filter((s) => s.done >= JOBS * 0.9);
const worst = (xs: TableState[], key: 'dead' | 'tableMb' | 'indexesMb') => Math.max(...xs.map((s) => s[key]));
const end = await tableState(completed);
const { rows: [left] } = await admin.query('SELECT count(*)::int AS n FROM job_queue');

console.log(`\n${completed.toLocaleString('en')} jobs in ${seconds.toFixed(0)} s (${(completed / seconds).toFixed(0)} jobs/s), ` +
  `${(cleaned + afterCleanup).toLocaleString('en')} deleted by cleanup, ${end.autovacuums} autovacuums of job_queue`);
console.log(`claim latency, first ${WINDOW.toLocaleString('en')} jobs: ${fmt(first)}`);
console.log(`claim latency, last  ${WINDOW.toLocaleString('en')} jobs: ${fmt(last)}`);
console.log(`end / start: p50 ${(percentile(last, 50) / percentile(first, 50)).toFixed(2)}x, p95 ${(percentile(last, 95) / percentile(first, 95)).toFixed(2)}x`);
console.log(`worst in the first tenth: ${worst(firstSamples, 'dead').toLocaleString('en')} dead tuples, table ${worst(firstSamples, 'tableMb').toFixed(1)} MB, indexes ${worst(firstSamples, 'indexesMb').toFixed(1)} MB`);
console.log(`worst in the last tenth:  ${worst(lastSamples, 'dead').toLocaleString('en')} dead tuples, table ${worst(lastSamples, 'tableMb').toFixed(1)} MB, indexes ${worst(lastSamples, 'indexesMb').toFixed(1)} MB`);
console.log(`after the last cleanup: ${left.n.toLocaleString('en')} rows, ${end.dead.toLocaleString('en')} dead tuples, table ${end.tableMb.toFixed(1)} MB, indexes ${end.indexesMb.toFixed(1)} MB`);
await admin.end();
