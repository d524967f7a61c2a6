/**
 * `npm run bench:serverless`: the app's serverless mode (Vercel Cron calling the worker routes once
 * a minute) against the long-running worker process, on the same backlog, plus the public API's
 * throughput. The app is the real one: a production build (`next build` into .next-e2e, reused
 * while no source is newer) served by `next start`, with embeddings from a local fake of the
 * OpenAI API that takes BENCH_EMBED_DELAY_MS per request.
 *
 * Phases, each on a fresh database of the same durable server (see bench-db.ts):
 *
 *   cron    BENCH_SUBMISSIONS ingestions of BENCH_RECORDS records each are submitted through
 *           POST /api/ingest (half with generateEmbeddings), nothing draining yet. Then the clock
 *           starts and the bench calls GET /api/workers/ingestion and /api/workers/vectorization
 *           as Vercel Cron would: both at once, every BENCH_MINUTE_MS, whether or not the previous
 *           call has answered, until every ingestion is COMPLETED and no job is PENDING or
 *           PROCESSING. Invocations are the app's "cron drain finished" lines (a route may fan
 *           out into more invocations of itself); how many ran at once is swept from their times
 *           and durations.
 *   worker  the same backlog submitted to a second app on a second database; then the clock
 *           starts and `scripts/worker.ts` (what `npm run worker` runs) drains it.
 *   api     on that second app, no drain running: POST /api/ingest of 10 records (no embeddings)
 *           from 1, 10 and 40 concurrent callers of one key, and GET /api/jobs/:id from 40, each
 *           level BENCH_API_SECONDS after a 2 s warm-up. The callers run in this process; its CPU
 *           use is printed beside the figures, to show whether the client was the bottleneck.
 *
 * Peak connections are sampled every 100 ms from pg_stat_activity (client backends of the
 * phase's database), by application_name: the app and the worker are started with PGAPPNAME
 * set; the bench's own connections (the sampler, the progress poller) are left out.
 *
 *   npm run bench:serverless
 *   BENCH_SUBMISSIONS=20 BENCH_MINUTE_MS=10000 BENCH_API_SECONDS=3 npm run bench:serverless
 *
 * Knobs: BENCH_SUBMISSIONS (500), BENCH_RECORDS (100), BENCH_EMBED_DELAY_MS (200),
 * BENCH_MINUTE_MS (60000), BENCH_TIMEOUT_MS (per drain phase, 1800000), BENCH_API_SECONDS (15),
 * BENCH_SUBMIT_CONCURRENCY (8, callers submitting the backlog). Passed on to the app as set:
 * CRON_CONCURRENCY, CRON_MAX_INVOCATIONS, WORKER_BUDGET_MS, WORKER_BASE_URL, DATABASE_POOL_MAX; to
 * the worker: WORKER_CONCURRENCY and its per-type variants. Every invocation runs in the one
 * `next start` process here, sharing its pool; the report says what that means on Vercel.
 *
 * The report goes to standard output only, as the other benches' do.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { createApiKey } from '../src/lib/auth/api-keys';
import { migrate } from '../src/lib/db/migrations';
import { createProject } from '../src/lib/ingestion/projects';
import { buildApp, startApp, type RunningApp } from '../tests/e2e/app-server';
import { startFakeOpenAI, type FakeOpenAI } from '../tests/helpers/fake-openai';
import { benchDatabase, checkpoint, fmtInt, freshDatabase, percentile, sleep } from './bench-db';

// The library's info lines (from migrate) would bury the figures; the app's own level is set below.
process.env.CONVEYOR_LOG_LEVEL ??= 'warn';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const SUBMISSIONS = env('BENCH_SUBMISSIONS', 500);
const RECORDS = env('BENCH_RECORDS', 100);
const EMBED_DELAY_MS = env('BENCH_EMBED_DELAY_MS', 200);
const MINUTE_MS = env('BENCH_MINUTE_MS', 60_000);
const TIMEOUT_MS = env('BENCH_TIMEOUT_MS', 30 * 60_000);
const API_SECONDS = env('BENCH_API_SECONDS', 15);
const SUBMIT_CONCURRENCY = env('BENCH_SUBMIT_CONCURRENCY', 8);
const API_WARMUP_MS = 2_000;
const API_RECORDS = 10;
const POLL_MS = 250;
const SAMPLE_MS = 100;
/** No job left to run while an ingestion is unfinished for this long: it never will be. */
const STALL_MS = 10_000;
/** Settings the app and the worker read, shown in the report as this run had them. */
const APP_KNOBS = ['CRON_CONCURRENCY', 'CRON_MAX_INVOCATIONS', 'WORKER_BUDGET_MS', 'WORKER_BASE_URL', 'DATABASE_POOL_MAX'] as const;
const WORKER_KNOBS = ['WORKER_CONCURRENCY', 'WORKER_CONCURRENCY_VECTORIZE', 'WORKER_POLL_MS'] as const;
const ROUTES = ['ingestion', 'vectorization'] as const;
/** application_name of the bench's own connections, left out of the connection counts. */
const BENCH_APP_NAME = 'bench-serverless';
const root = path.resolve(import.meta.dirname, '..');

// ---------------------------------------------------------------- setup

interface Target {
  url: string;
  pool: pg.Pool;
  key: string;
}

/** A migrated database with a project and an API key whose limits no run of this bench reaches. */
async function prepareDatabase(url: string): Promise<Target> {
  await migrate({ connectionString: url });
  const pool = new pg.Pool({ connectionString: url, max: 2, application_name: BENCH_APP_NAME });
  const project = await createProject(pool, 'bench');
  const { key } = await createApiKey(pool, {
    projectId: project.id,
    name: 'bench key',
    limits: { requestsPerMinute: 1_000_000, recordsPerDay: 1_000_000_000, embeddingsPerDay: 1_000_000_000 },
  });
  return { url, pool, key };
}

const knobs = (names: readonly string[]) => names.map((name) => `${name}=${process.env[name] ?? 'unset'}`).join(', ');

function embeddingEnv(fake: FakeOpenAI): Record<string, string> {
  return { EMBEDDING_PROVIDER: 'openai', EMBEDDING_BASE_URL: fake.baseURL, EMBEDDING_API_KEY: 'x' };
}

/** Counts the app's lines as they come (a chunk may end mid-line). */
class AppLog {
  /** The "cron drain finished" lines: each drain's route (its job types) and why it stopped. */
  drains: { route: string; stoppedBy: string }[] = [];
  warnings = 0;
  errors = 0;
  tail: string[] = [];
  private partial = '';

  take = (chunk: string): void => {
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.line(line);
  };

  private line(line: string): void {
    if (line.trim() === '') return;
    this.tail = [...this.tail.slice(-19), line];
    if (/"level":"(error|fatal)"/.test(line)) this.errors++;
    if (line.includes('"level":"warn"')) this.warnings++;
    if (!line.includes('"msg":"cron drain finished"')) return;
    try {
      const entry = JSON.parse(line) as { route?: string[]; stoppedBy?: string };
      this.drains.push({ route: entry.route?.join(',') ?? '?', stoppedBy: entry.stoppedBy ?? '?' });
    } catch {
      this.drains.push({ route: '?', stoppedBy: '?' });
    }
  }
}

interface App extends RunningApp {
  log: AppLog;
  cronSecret: string;
}

async function startBenchApp(target: Target, fake: FakeOpenAI): Promise<App> {
  const log = new AppLog();
  const cronSecret = randomBytes(30).toString('base64url'); // 40 characters
  const app = await startApp(
    {
      DATABASE_URL: target.url,
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      PGAPPNAME: 'app',
      CRON_SECRET: cronSecret,
      SESSION_SECRET: randomBytes(36).toString('base64url'),
      ...embeddingEnv(fake),
    },
    log.take,
  );
  return { ...app, log, cronSecret };
}

// ---------------------------------------------------------------- the backlog

function ingestBody(n: number, records: number, generateEmbeddings: boolean): string {
  const topics = ['foxes', 'taxes', 'boxes', 'oxen'];
  return JSON.stringify({
    generateEmbeddings,
    records: Array.from({ length: records }, (_, i) => ({
      content: `submission ${n} record ${i}: a note about ${topics[i % topics.length]} and what they cost in ${2000 + (i % 25)}`,
      row: i,
      source: 'bench',
    })),
  });
}

const postIngest = (app: App, key: string, body: string) =>
  fetch(`${app.baseUrl}/api/ingest`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body });

/** The backlog through the public API, SUBMIT_CONCURRENCY at a time; every other one asks for embeddings. Seconds taken. */
async function submitBacklog(app: App, target: Target): Promise<number> {
  const started = performance.now();
  let next = 0;
  const submitter = async () => {
    for (let n = next++; n < SUBMISSIONS; n = next++) {
      const response = await postIngest(app, target.key, ingestBody(n, RECORDS, n % 2 === 0));
      if (response.status !== 202) throw new Error(`POST /api/ingest answered ${response.status}: ${await response.text()}`);
      await response.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: SUBMIT_CONCURRENCY }, submitter));
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `  submitted ${fmtInt(SUBMISSIONS)} x ${fmtInt(RECORDS)} records in ${seconds.toFixed(1)} s (${(SUBMISSIONS / seconds).toFixed(1)} submissions/s)`,
  );
  // The submissions' WAL checkpointed now, not inside the measurement.
  await checkpoint(target.pool);
  return seconds;
}

// ---------------------------------------------------------------- measuring a drain

/** Peak client connections to the database, by application_name, sampled from one connection of its own. */
class ConnectionSampler {
  peakTotal = 0;
  peakByName = new Map<string, number>();
  /** Cron invocations draining at once: slots taken (not only reserved) in drain_slots, by route. */
  peakSlots = 0;
  peakSlotsByRoute = new Map<string, number>();
  private running = true;
  private done: Promise<void> = Promise.resolve();

  async start(url: string): Promise<void> {
    const client = new pg.Client({ connectionString: url, application_name: BENCH_APP_NAME });
    await client.connect();
    this.done = this.loop(client);
  }

  private async loop(client: pg.Client): Promise<void> {
    try {
      while (this.running) {
        const { rows } = await client.query<{ name: string; n: number }>(
          `SELECT coalesce(nullif(application_name, ''), '(unnamed)') AS name, count(*)::int AS n
             FROM pg_stat_activity
            WHERE datname = current_database() AND backend_type = 'client backend' AND application_name <> $1
            GROUP BY 1`,
          [BENCH_APP_NAME],
        );
        this.peakTotal = Math.max(
          this.peakTotal,
          rows.reduce((sum, r) => sum + r.n, 0),
        );
        for (const r of rows) this.peakByName.set(r.name, Math.max(this.peakByName.get(r.name) ?? 0, r.n));
        const { rows: slots } = await client.query<{ route: string; n: number }>(
          `SELECT route, count(*)::int AS n FROM drain_slots
            WHERE holder IS NOT NULL AND started_at IS NOT NULL AND held_until >= now() GROUP BY route`,
        );
        this.peakSlots = Math.max(
          this.peakSlots,
          slots.reduce((sum, r) => sum + r.n, 0),
        );
        for (const r of slots) this.peakSlotsByRoute.set(r.route, Math.max(this.peakSlotsByRoute.get(r.route) ?? 0, r.n));
        await sleep(SAMPLE_MS);
      }
    } finally {
      await client.end();
    }
  }

  async stop(): Promise<string> {
    this.running = false;
    await this.done;
    const parts = [...this.peakByName].map(([name, n]) => `${name} ${n}`).join(', ');
    return `${this.peakTotal}${parts ? ` (${parts})` : ''}`;
  }

  slots(): string {
    const parts = [...this.peakSlotsByRoute].map(([route, n]) => `${route.replace('/api/workers/', '')} ${n}`).join(', ');
    return `${this.peakSlots}${parts ? ` (${parts})` : ''}`;
  }
}

interface QueueState {
  unfinishedIngestions: number;
  activeJobs: number;
  completedJobs: number;
}

async function queueState(pool: pg.Pool): Promise<QueueState> {
  const { rows } = await pool.query(
    `SELECT (SELECT count(*)::int FROM ingest_jobs WHERE status::text <> 'COMPLETED') AS unfinished,
            (SELECT count(*)::int FROM job_queue WHERE status IN ('PENDING', 'PROCESSING')) AS active,
            (SELECT count(*)::int FROM job_queue WHERE status = 'COMPLETED') AS completed`,
  );
  return { unfinishedIngestions: rows[0].unfinished, activeJobs: rows[0].active, completedJobs: rows[0].completed };
}

type DrainEnd = 'drained' | 'timeout' | 'stalled';

/** Polls until every ingestion is COMPLETED and no job is waiting or running, or it gives up; prints progress. */
async function waitForDrain(pool: pg.Pool, label: string, startedAt: number): Promise<DrainEnd> {
  let lastProgress = startedAt;
  let idleSince: number | null = null;
  for (;;) {
    const state = await queueState(pool);
    const now = Date.now();
    if (state.unfinishedIngestions === 0 && state.activeJobs === 0) return 'drained';
    idleSince = state.activeJobs === 0 ? (idleSince ?? now) : null;
    if (idleSince !== null && now - idleSince > STALL_MS) return 'stalled';
    if (now - startedAt > TIMEOUT_MS) return 'timeout';
    if (now - lastProgress >= 15_000) {
      lastProgress = now;
      console.log(
        `  ${label} ${((now - startedAt) / 1000).toFixed(0)} s: ${fmtInt(state.completedJobs)} jobs completed, ` +
          `${fmtInt(state.activeJobs)} waiting or running, ${fmtInt(state.unfinishedIngestions)} ingestions unfinished`,
      );
    }
    await sleep(POLL_MS);
  }
}

interface DrainFigures {
  end: DrainEnd;
  seconds: number;
  /** From the start of the clock to the first job taken (a worker process starting, a route's first claim). */
  firstStartSeconds: number;
  jobs: number;
  records: number;
  peakConnections: string;
  /** Invocations draining at once, sampled from drain_slots (the cap's own count). */
  peakSlots: string;
  embeddingRequests: number;
  checks: string[];
}

/** Seconds from `startedAt` to the last job or ingestion to finish (the database's timestamps, the same clock). */
async function lastFinishSeconds(pool: pg.Pool, startedAt: number): Promise<number> {
  const { rows } = await pool.query<{ last: Date | null }>(
    `SELECT greatest((SELECT max(completed_at) FROM job_queue), (SELECT max(completed_at) FROM ingest_jobs)) AS last`,
  );
  return ((rows[0].last?.getTime() ?? Date.now()) - startedAt) / 1000;
}

async function firstStartSeconds(pool: pg.Pool, startedAt: number): Promise<number> {
  const { rows } = await pool.query<{ first: Date | null }>('SELECT min(started_at) AS first FROM job_queue');
  return rows[0].first ? (rows[0].first.getTime() - startedAt) / 1000 : NaN;
}

/** What must hold after a drain: failures listed, none when all is well. */
async function drainChecks(pool: pg.Pool): Promise<string[]> {
  const { rows: jobs } = await pool.query<{ status: string; n: number }>(`SELECT status::text, count(*)::int AS n FROM job_queue GROUP BY 1`);
  const byStatus = Object.fromEntries(jobs.map((r) => [r.status, r.n]));
  const {
    rows: [r],
  } = await pool.query(
    `SELECT (SELECT count(*)::int FROM ingest_jobs) AS ingestions,
            (SELECT count(*)::int FROM ingest_jobs WHERE status::text = 'COMPLETED') AS completed,
            (SELECT count(*)::int FROM workflow_runs WHERE status::text <> 'COMPLETED') AS runs_unfinished,
            count(*)::int AS records,
            count(*) FILTER (WHERE i.generate_embeddings)::int AS wanted,
            count(e.record_id) FILTER (WHERE i.generate_embeddings)::int AS embedded,
            count(e.record_id) FILTER (WHERE NOT i.generate_embeddings)::int AS unwanted
       FROM records rec JOIN ingest_jobs i ON i.id = rec.ingest_job_id LEFT JOIN embeddings e ON e.record_id = rec.id`,
  );
  const failures: string[] = [];
  for (const status of ['FAILED', 'PENDING', 'PROCESSING']) if (byStatus[status]) failures.push(`${byStatus[status]} jobs ${status}`);
  if (r.completed !== SUBMISSIONS) failures.push(`${r.completed} of ${SUBMISSIONS} ingestions COMPLETED`);
  if (r.runs_unfinished) failures.push(`${r.runs_unfinished} workflow runs not COMPLETED`);
  if (r.records !== SUBMISSIONS * RECORDS) failures.push(`${r.records} records stored, not ${SUBMISSIONS * RECORDS}`);
  const wantedTotal = Math.ceil(SUBMISSIONS / 2) * RECORDS;
  if (r.embedded !== wantedTotal) failures.push(`${r.embedded} embeddings of ${wantedTotal} asked for`);
  if (r.unwanted) failures.push(`${r.unwanted} embeddings not asked for`);
  return failures;
}

/** Runs `drive` from the start of the clock until the drain ends, and measures it. */
async function measureDrain(label: string, target: Target, fake: FakeOpenAI, drive: () => { stop(): Promise<void> }): Promise<DrainFigures> {
  const sampler = new ConnectionSampler();
  await sampler.start(target.url);
  const requestsBefore = fake.requests.length;
  const startedAt = Date.now();
  const driver = drive();
  let end: DrainEnd;
  let seconds: number;
  let peakConnections: string;
  try {
    end = await waitForDrain(target.pool, label, startedAt);
    seconds = end === 'drained' ? await lastFinishSeconds(target.pool, startedAt) : (Date.now() - startedAt) / 1000;
  } finally {
    await driver.stop();
    peakConnections = await sampler.stop();
  }
  const { completedJobs } = await queueState(target.pool);
  const {
    rows: [{ n: records }],
  } = await target.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM records');
  const checks = await drainChecks(target.pool);
  if (end !== 'drained')
    checks.unshift(end === 'timeout' ? `not drained within ${TIMEOUT_MS / 1000} s` : `stalled: no job left to run for ${STALL_MS / 1000} s`);
  console.log(`  ${label}: ${end} in ${seconds.toFixed(1)} s, ${fmtInt(completedJobs)} jobs completed`);
  return {
    end,
    seconds,
    firstStartSeconds: await firstStartSeconds(target.pool, startedAt),
    jobs: completedJobs,
    records,
    peakConnections,
    peakSlots: sampler.slots(),
    embeddingRequests: fake.requests.length - requestsBefore,
    checks,
  };
}

// ---------------------------------------------------------------- phase cron

interface TickResult {
  route: string;
  status: number;
  processed: number;
  error?: string;
}

/** Vercel Cron, every BENCH_MINUTE_MS: both routes called at once, never waiting for an earlier call. */
function cronTicker(app: App) {
  const calls: Promise<void>[] = [];
  const results: TickResult[] = [];
  const call = (route: string) =>
    fetch(`${app.baseUrl}/api/workers/${route}`, { headers: { authorization: `Bearer ${app.cronSecret}` } })
      .then(async (response) => {
        const text = await response.text();
        let processed = 0;
        try {
          processed = Number((JSON.parse(text) as { processed?: number }).processed ?? 0);
        } catch {
          // not JSON: counted by its status
        }
        results.push({ route, status: response.status, processed, error: response.ok ? undefined : text.slice(0, 200) });
      })
      .catch((error: Error) => void results.push({ route, status: 0, processed: 0, error: error.message }));
  const tick = () => {
    for (const route of ROUTES) calls.push(call(route));
  };
  tick();
  const timer = setInterval(tick, MINUTE_MS);
  return {
    calls,
    results,
    /** No more ticks; waits (up to a budget and a bit) for the calls still running, so their drains are counted. */
    stop: async () => {
      clearInterval(timer);
      const budget = Number(process.env.WORKER_BUDGET_MS ?? 50_000);
      await Promise.race([Promise.all(calls), sleep(budget + 15_000)]);
    },
  };
}

interface CronFigures extends DrainFigures {
  ticks: number;
  tickErrors: string[];
  invocations: string;
}

async function cronPhase(target: Target, fake: FakeOpenAI): Promise<CronFigures> {
  console.log(`\ncron: ${fmtInt(SUBMISSIONS)} ingestions of ${fmtInt(RECORDS)} records, routes called every ${MINUTE_MS / 1000} s`);
  const app = await startBenchApp(target, fake);
  try {
    await submitBacklog(app, target);
    let ticker: ReturnType<typeof cronTicker> | undefined;
    const figures = await measureDrain('cron', target, fake, () => (ticker = cronTicker(app)));
    const { calls, results } = ticker!;
    const tickErrors = results.filter((r) => r.status !== 200).map((r) => `${r.route} ${r.status}: ${r.error ?? ''}`.trim());
    if (calls.length > results.length) tickErrors.push(`${calls.length - results.length} calls had not answered when the app was stopped`);
    if (app.log.errors) tickErrors.push(`${app.log.errors} error lines in the app's log`);
    if (tickErrors.length) console.log(`  app log, last lines:\n    ${app.log.tail.join('\n    ')}`);
    return {
      ...figures,
      ticks: calls.length,
      tickErrors,
      invocations: describeInvocations(app.log),
    };
  } finally {
    await app.stop();
  }
}

/** "14 (stoppedBy: maxJobs 10, empty 4)". */
function describeInvocations(log: AppLog): string {
  const by = new Map<string, number>();
  for (const d of log.drains) by.set(d.stoppedBy, (by.get(d.stoppedBy) ?? 0) + 1);
  const parts = [...by].map(([reason, n]) => `${reason} ${n}`).join(', ');
  return `${log.drains.length}${parts ? ` (stoppedBy: ${parts})` : ''}`;
}

// ---------------------------------------------------------------- phase worker

/** scripts/worker.ts, as `npm run worker` starts it, against the target's database. */
function spawnWorker(target: Target, fake: FakeOpenAI) {
  const child: ChildProcess = spawn(path.join(root, 'node_modules/.bin/tsx'), ['scripts/worker.ts'], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: target.url, NODE_ENV: 'production', LOG_LEVEL: 'warn', PGAPPNAME: 'worker', ...embeddingEnv(fake) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = new AppLog();
  child.stdout?.on('data', (chunk: Buffer) => log.take(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => log.take(chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    log,
    /** SIGTERM, as a deploy would send; the worker finishes what it holds and exits 0. */
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      const code = await exited;
      if (code !== 0) console.log(`  worker exited ${code}; last lines:\n    ${log.tail.join('\n    ')}`);
    },
  };
}

interface WorkerFigures extends DrainFigures {
  warnings: number;
}

/** The backlog submitted to a running app on its own database; the app is left running for the API phase. */
async function workerPhase(target: Target, app: App, fake: FakeOpenAI): Promise<WorkerFigures> {
  console.log(`\nworker: the same backlog, drained by scripts/worker.ts (${knobs(WORKER_KNOBS)})`);
  await submitBacklog(app, target);
  let worker: ReturnType<typeof spawnWorker> | undefined;
  const figures = await measureDrain('worker', target, fake, () => (worker = spawnWorker(target, fake)));
  const { log } = worker!;
  const warnings = log.warnings + log.errors;
  if (warnings) console.log(`  worker: ${warnings} warning or error lines; the last lines:\n    ${log.tail.join('\n    ')}`);
  return { ...figures, warnings };
}

// ---------------------------------------------------------------- phase api

interface LoadFigures {
  name: string;
  callers: number;
  rate: number;
  p50: number;
  p95: number;
  p99: number;
  errors: number;
  firstError?: string;
  clientCpu: number;
}

/** `callers` loops of `request` for the warm-up and then API_SECONDS; figures over the answers that came in the measured window. */
async function load(name: string, callers: number, request: () => Promise<Response>): Promise<LoadFigures> {
  const warmEnd = performance.now() + API_WARMUP_MS;
  const end = warmEnd + API_SECONDS * 1000;
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let cpuAtWarmEnd = process.cpuUsage();
  const warmed = setTimeout(() => (cpuAtWarmEnd = process.cpuUsage()), API_WARMUP_MS);
  const caller = async () => {
    while (performance.now() < end) {
      const sent = performance.now();
      let status = 0;
      let text: string;
      try {
        const response = await request();
        status = response.status;
        text = await response.text(); // read to the end, so the connection is reused
      } catch (error) {
        text = (error as Error).message;
      }
      const answered = performance.now();
      if (answered < warmEnd || answered > end) continue;
      latencies.push(answered - sent);
      if (status < 200 || status > 299) {
        errors++;
        firstError ??= `${status} ${text.slice(0, 200)}`;
      }
    }
  };
  await Promise.all(Array.from({ length: callers }, caller));
  clearTimeout(warmed);
  const cpu = process.cpuUsage(cpuAtWarmEnd);
  const clientCpu = (cpu.user + cpu.system) / 1000 / (API_SECONDS * 1000);
  const figures = {
    name,
    callers,
    rate: latencies.length / API_SECONDS,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    errors,
    firstError,
    clientCpu,
  };
  console.log(
    `  ${name}, ${callers} caller${callers === 1 ? '' : 's'}: ${fmtInt(figures.rate)} requests/s, p50 ${figures.p50.toFixed(1)} ms, p99 ${figures.p99.toFixed(1)} ms, ` +
      `${errors} errors${firstError ? ` (first: ${firstError})` : ''}, client CPU ${(clientCpu * 100).toFixed(0)} % of a core`,
  );
  return figures;
}

async function apiPhase(target: Target, app: App): Promise<LoadFigures[]> {
  console.log(
    `\napi: ${API_SECONDS} s per level after ${API_WARMUP_MS / 1000} s of warm-up, one key, callers in this process; ` +
      `the app's pool: ${process.env.DATABASE_POOL_MAX ?? 3} connections (DATABASE_POOL_MAX)`,
  );
  const body = ingestBody(-1, API_RECORDS, false);
  const rows: LoadFigures[] = [];
  for (const callers of [1, 10, 40]) rows.push(await load(`POST /api/ingest (${API_RECORDS} records)`, callers, () => postIngest(app, target.key, body)));
  // A completed ingestion of the backlog (its status query counts its records and embeddings).
  const {
    rows: [{ id }],
  } = await target.pool.query<{ id: string }>(`SELECT id FROM ingest_jobs ORDER BY status::text = 'COMPLETED' DESC, created_at LIMIT 1`);
  const headers = { authorization: `Bearer ${target.key}` };
  rows.push(await load('GET /api/jobs/:id', 40, () => fetch(`${app.baseUrl}/api/jobs/${id}`, { headers })));
  return rows;
}

// ---------------------------------------------------------------- the report

/** A Markdown table padded to read in a terminal: the first column left-aligned, the rest right. */
function printTable(header: string[], rows: string[][]): void {
  const width = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((cell, i) => (i === 0 ? cell.padEnd(width[i]!) : cell.padStart(width[i]!))).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${width.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const r of rows) console.log(line(r));
}

const checksCell = (failures: string[]) => (failures.length === 0 ? 'all ok' : `${failures.length} FAILED (below)`);
const goal = (met: boolean) => (met ? 'goal met' : 'goal MISSED');

function printDrainReport(cron: CronFigures, worker: WorkerFigures): void {
  const rate = (f: DrainFigures, of: number) => (f.end === 'drained' ? (of / f.seconds).toFixed(1) : `${(of / f.seconds).toFixed(1)} (unfinished)`);
  const rows: [string, string, string][] = [
    ['time to drain (s)', cron.seconds.toFixed(1), worker.seconds.toFixed(1)],
    ['first job started (s)', cron.firstStartSeconds.toFixed(1), worker.firstStartSeconds.toFixed(1)],
    ['jobs completed', fmtInt(cron.jobs), fmtInt(worker.jobs)],
    ['jobs/s', rate(cron, cron.jobs), rate(worker, worker.jobs)],
    ['records/s', rate(cron, cron.records), rate(worker, worker.records)],
    ['embedding requests', fmtInt(cron.embeddingRequests), fmtInt(worker.embeddingRequests)],
    ['ticks sent by the bench', fmtInt(cron.ticks), '–'],
    ['invocations (drain-finished lines)', cron.invocations, '–'],
    ['invocations draining at once, peak (drain_slots)', cron.peakSlots, '–'],
    ['peak connections', cron.peakConnections, worker.peakConnections],
    [
      'tick or log errors',
      checksCell(cron.tickErrors).replace('all ok', 'none'),
      worker.warnings ? `${worker.warnings} warning or error lines (above)` : 'none',
    ],
    ['checks', checksCell(cron.checks), checksCell(worker.checks)],
  ];
  printTable(['drain', 'cron routes', 'worker process'], rows);
  for (const [what, failures] of [
    ['cron tick or log errors', cron.tickErrors],
    ['cron checks failed', cron.checks],
    ['worker checks failed', worker.checks],
  ] as const) {
    if (failures.length) console.log(`${what}: ${failures.join('; ')}`);
  }
  const ratio = cron.jobs / cron.seconds / (worker.jobs / worker.seconds);
  const unfinished = cron.end !== 'drained' || worker.end !== 'drained' ? ' (a phase did not finish: rates so far)' : '';
  console.log(`cron jobs/s / worker jobs/s: ${(ratio * 100).toFixed(0)} % (goal >= 50 %: ${goal(ratio >= 0.5)})${unfinished}`);
  const poolMax = Number(process.env.DATABASE_POOL_MAX ?? 3);
  console.log(
    `connections: here every invocation runs in one next start process, sharing its pool of ${poolMax} (DATABASE_POOL_MAX); ` +
      `on Vercel each is an instance with its own pool: up to ${parseInt(cron.peakSlots, 10)} at once x ${poolMax} = ${parseInt(cron.peakSlots, 10) * poolMax} for the cron routes`,
  );
}

function printApiReport(rows: LoadFigures[]): void {
  printTable(
    ['api (one key)', 'callers', 'requests/s', 'p50 ms', 'p95 ms', 'p99 ms', 'errors', 'client CPU'],
    rows.map((r) => [
      r.name,
      String(r.callers),
      fmtInt(r.rate),
      r.p50.toFixed(1),
      r.p95.toFixed(1),
      r.p99.toFixed(1),
      String(r.errors),
      `${(r.clientCpu * 100).toFixed(0)} %`,
    ]),
  );
  const one = rows.find((r) => r.callers === 1)!;
  const forty = rows.find((r) => r.callers === 40 && r.name.startsWith('POST'))!;
  const scale = forty.rate / one.rate;
  console.log(
    `POST at 40 callers / 1 caller: ${scale.toFixed(1)}x (goal >= 6x: ${goal(scale >= 6)}); p99 at 40 callers ${forty.p99.toFixed(1)} ms (goal <= 250 ms: ${goal(forty.p99 <= 250)})`,
  );
  console.log('client CPU: the callers run in this process (with the fake OpenAI server); near 100 % of a core, the client is what limits the rate');
}

// ---------------------------------------------------------------- main

const began = Date.now();
console.log(
  `bench:serverless: ${fmtInt(SUBMISSIONS)} ingestions x ${fmtInt(RECORDS)} records (half with embeddings, ${EMBED_DELAY_MS} ms per embedding request), ` +
    `a cron minute of ${MINUTE_MS / 1000} s, timeout ${TIMEOUT_MS / 1000} s per drain; app: ${knobs(APP_KNOBS)}`,
);
console.log('building the app (next build into .next-e2e, skipped while no source is newer)');
buildApp();
const cronUrl = await benchDatabase('conveyor_serverless');
const fake = await startFakeOpenAI();
fake.defaultDelayMs = EMBED_DELAY_MS;
const targets: Target[] = [];
let workerApp: App | undefined;
try {
  const cronTarget = await prepareDatabase(cronUrl);
  targets.push(cronTarget);
  const cron = await cronPhase(cronTarget, fake);

  const workerTarget = await prepareDatabase(await freshDatabase(cronUrl, 'conveyor_serverless_worker'));
  targets.push(workerTarget);
  workerApp = await startBenchApp(workerTarget, fake);
  const worker = await workerPhase(workerTarget, workerApp, fake);
  const api = await apiPhase(workerTarget, workerApp);

  console.log(`\nsummary (${((Date.now() - began) / 60_000).toFixed(1)} min; drains on fresh databases of the server above)`);
  printDrainReport(cron, worker);
  console.log('');
  printApiReport(api);
  const failed = cron.checks.length + cron.tickErrors.length + worker.checks.length + api.reduce((sum, r) => sum + r.errors, 0);
  if (failed) process.exitCode = 1;
} finally {
  await workerApp?.stop();
  await fake.close();
  for (const target of targets) await target.pool.end();
}
// The scratch cluster is stopped and deleted on exit (bench-db.ts); keep-alive sockets must not hold the process.
process.exit();
