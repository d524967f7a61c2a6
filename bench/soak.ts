/**
 * `npm run bench:soak`: a million jobs through enqueue, claim, complete and cleanup, the way a busy
 * queue lives for hours: a producer keeps a backlog, workers drain it, retention deletes what
 * finished, autovacuum does the rest. A queue table that bloats gets slower to claim from as it
 * goes, so the figures that matter are the claim latency and the throughput at the end next to
 * the start (goal: latency within 2x), with the dead tuples and the table's size beside them.
 *
 * It runs on the same server as `npm run bench`: a durable scratch cluster of its own, or
 * DATABASE_URL's server (see bench-db.ts). The backlog is loaded by one SQL statement before the
 * clock starts, and the producer keeps it topped up until the workers have completed SOAK_JOBS.
 *
 *   SOAK_JOBS=1000000 SOAK_WORKERS=8 npm run bench:soak
 *   SOAK_UNTUNED=1 npm run bench:soak       # the same with the table's storage settings reset
 *   npm run bench:soak:backlog              # a million jobs waiting throughout (SOAK_BACKLOG=1000000)
 *   SOAK_JOBS=50000 npm run bench:soak:backlog
 */
import pg from 'pg';
import { migrate } from '../src/lib/db/migrations';
import { DatabaseQueue } from 'pg-conveyor';
import { benchDatabase, checkpoint, fmtInt, percentile } from './bench-db';

// The library's info lines (workers starting and stopping) would bury the figures; warnings still show.
process.env.CONVEYOR_LOG_LEVEL ??= 'warn';

const JOBS = Number(process.env.SOAK_JOBS ?? 1_000_000);
const WORKERS = Number(process.env.SOAK_WORKERS ?? 8);
/** PENDING jobs waiting throughout: loaded up front, then topped up by the producer. */
const BACKLOG = Number(process.env.SOAK_BACKLOG ?? 20_000);
/** Retention: how often cleanup runs, and how long finished jobs are kept. */
const CLEANUP_EVERY_MS = 2_000;
const KEEP_FINISHED_MS = 5_000;
const UNTUNED = process.env.SOAK_UNTUNED === '1';
/** Latency is compared over the first and the last this-many jobs. */
const WINDOW = Math.min(100_000, Math.floor(JOBS / 10));

const url = await benchDatabase('conveyor_soak');
await migrate({ connectionString: url });
const admin = new pg.Pool({ connectionString: url, max: 2 });
if (UNTUNED) {
  await admin.query(`ALTER TABLE job_queue RESET (fillfactor, autovacuum_vacuum_scale_factor,
    autovacuum_analyze_scale_factor, autovacuum_vacuum_cost_delay)`);
}
// The backlog in one statement (a million through enqueueMany would take minutes before the start).
await admin.query(`INSERT INTO job_queue (job_type, payload) SELECT 'SOAK', jsonb_build_object('n', g) FROM generate_series(1, $1::int) g`, [BACKLOG]);
await admin.query('VACUUM ANALYZE job_queue');
await checkpoint(admin);

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
    at: Date.now(),
    done,
    live: r.live,
    dead: r.dead,
    autovacuums: r.autovacuums,
    tableMb: Number(r.table_bytes) / 2 ** 20,
    indexesMb: Number(r.index_bytes) / 2 ** 20,
  };
}

let enqueued = BACKLOG;
let completed = 0;
let cleaned = 0;
let producing = true;
/** Claim latency in ms by the order in which claims returned a job. */
const claimMs: number[] = [];

/** When the workers had completed the first and the last tenth's boundaries (ms since start). */
const tenths = { firstEnd: 0, lastStart: 0, end: 0 };

async function producer(): Promise<void> {
  const queue = new DatabaseQueue({ connectionString: url, poolMax: 1 });
  try {
    while (completed < JOBS) {
      if (enqueued - completed >= BACKLOG) {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      const n = Math.min(1_000, BACKLOG - (enqueued - completed));
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
      if (completed === Math.ceil(JOBS / 10)) tenths.firstEnd = Date.now() - started;
      if (completed === Math.floor(JOBS * 0.9)) tenths.lastStart = Date.now() - started;
      if (completed === JOBS) tenths.end = Date.now() - started;
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
      console.log(
        `  ${state.done.toLocaleString('en')} done: ${state.dead.toLocaleString('en')} dead tuples, table ${state.tableMb.toFixed(1)} MB, indexes ${state.indexesMb.toFixed(1)} MB`,
      );
    }
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

console.log(
  `soak: ${JOBS.toLocaleString('en')} jobs, ${WORKERS} workers, backlog ${BACKLOG.toLocaleString('en')} (kept), ` +
    `cleanup every ${CLEANUP_EVERY_MS / 1000} s keeping ${KEEP_FINISHED_MS / 1000} s, table settings ${UNTUNED ? 'RESET (Postgres defaults)' : 'as migrated'}`,
);
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
const {
  rows: [left],
} = await admin.query('SELECT count(*)::int AS n FROM job_queue');

console.log(
  `\n${completed.toLocaleString('en')} jobs in ${seconds.toFixed(0)} s (${(completed / seconds).toFixed(0)} jobs/s), ` +
    `${(cleaned + afterCleanup).toLocaleString('en')} deleted by cleanup, ${end.autovacuums} autovacuums of job_queue`,
);
console.log(`claim latency, first ${WINDOW.toLocaleString('en')} jobs: ${fmt(first)}`);
console.log(`claim latency, last  ${WINDOW.toLocaleString('en')} jobs: ${fmt(last)}`);
console.log(
  `end / start: p50 ${(percentile(last, 50) / percentile(first, 50)).toFixed(2)}x, p95 ${(percentile(last, 95) / percentile(first, 95)).toFixed(2)}x`,
);
const firstRate = Math.ceil(JOBS / 10) / (tenths.firstEnd / 1000);
const lastRate = (JOBS - Math.floor(JOBS * 0.9)) / ((tenths.end - tenths.lastStart) / 1000);
console.log(`throughput, first tenth: ${fmtInt(firstRate)} jobs/s; last tenth: ${fmtInt(lastRate)} jobs/s; end / start ${(lastRate / firstRate).toFixed(2)}x`);
console.log(
  `worst in the first tenth: ${worst(firstSamples, 'dead').toLocaleString('en')} dead tuples, table ${worst(firstSamples, 'tableMb').toFixed(1)} MB, indexes ${worst(firstSamples, 'indexesMb').toFixed(1)} MB`,
);
console.log(
  `worst in the last tenth:  ${worst(lastSamples, 'dead').toLocaleString('en')} dead tuples, table ${worst(lastSamples, 'tableMb').toFixed(1)} MB, indexes ${worst(lastSamples, 'indexesMb').toFixed(1)} MB`,
);
console.log(
  `after the last cleanup: ${left.n.toLocaleString('en')} rows, ${end.dead.toLocaleString('en')} dead tuples, table ${end.tableMb.toFixed(1)} MB, indexes ${end.indexesMb.toFixed(1)} MB`,
);
await admin.end();
