/**
 * Shared by the benchmarks: the server they measure on, a database of their own, timing helpers.
 *
 * The server is a durable one: a scratch cluster of the bench's own with PostgreSQL's defaults
 * (fsync, synchronous_commit, full_page_writes, jit all on), started beside the dev cluster and
 * deleted at the end, because the dev cluster runs with fsync off and a queue's cost is mostly
 * its commits. With DATABASE_URL set, that server is used instead; either way its settings are
 * printed, and a server that does not sync its commits is refused unless BENCH_ALLOW_NONDURABLE=1.
 */
import { spawnSync } from 'node:child_process';
import pg from 'pg';
import { startScratchCluster, stopScratchClusterAtExit } from '../scripts/db/scratch-cluster';

/** Drops and creates `name` next to the database at `url`; returns its URL. */
export async function freshDatabase(url: string, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Drops `name` on the server of `url`, sessions and all. */
export async function dropDatabase(url: string, name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}

const SHOWN = ['server_version', 'fsync', 'synchronous_commit', 'full_page_writes', 'jit', 'jit_above_cost', 'shared_buffers'] as const;

/** SHOWs the settings that decide what a figure means; exits 1 on a server that does not sync commits. */
async function checkDurability(url: string, server: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const settings: Record<string, string> = {};
  for (const name of SHOWN) settings[name] = (await client.query(`SHOW ${name}`)).rows[0][name];
  await client.end();
  console.log(`server: ${server}`);
  console.log(`  ${SHOWN.map((name) => `${name}=${settings[name]}`).join(', ')}`);
  const off = (['fsync', 'synchronous_commit'] as const).filter((name) => settings[name] === 'off');
  if (off.length === 0) return;
  if (process.env.BENCH_ALLOW_NONDURABLE === '1') {
    console.log(`  WARNING: ${off.join(' and ')} off: commits are not synced, figures are not comparable to a production server`);
    return;
  }
  console.error(
    `bench: refusing to run: ${off.join(' and ')} ${off.length > 1 ? 'are' : 'is'} off on this server, so commits are not synced and ` +
      'the figures would flatter every statement. Unset DATABASE_URL to measure on a durable scratch cluster, ' +
      'or set BENCH_ALLOW_NONDURABLE=1 to run anyway.',
  );
  process.exit(1);
}

/** The code measured: HEAD, and whether src/ differs from it (figures of uncommitted code say so). */
function codeVersion(): string {
  const git = (...args: string[]) => spawnSync('git', args, { encoding: 'utf8' });
  const head = git('rev-parse', '--short', 'HEAD');
  if (head.status !== 0) return 'unknown (no git)';
  // The library is what most benchmarks measure: its sources count as much as the app's.
  const dirty = git('status', '--porcelain', '--', 'src', 'prisma', 'packages/pg-conveyor/src', 'packages/pg-conveyor/migrations', 'app').stdout.trim() !== '';
  return `${head.stdout.trim()}${dirty ? ' with uncommitted changes in src/, app/, prisma/ or packages/pg-conveyor/' : ''}`;
}

/**
 * A fresh database called `name` on the server to measure: DATABASE_URL's when set, else a
 * durable scratch cluster started now and stopped and deleted when the process ends.
 */
export async function benchDatabase(name: string): Promise<string> {
  let adminUrl = process.env.DATABASE_URL;
  let server = 'DATABASE_URL';
  if (!adminUrl) {
    const cluster = await startScratchCluster({ durable: true });
    stopScratchClusterAtExit(cluster);
    adminUrl = cluster.url;
    server = `durable scratch cluster in ${cluster.dir} (PostgreSQL's defaults; deleted at exit)`;
  }
  console.log(`code: ${codeVersion()}`);
  await checkDurability(adminUrl, server);
  return freshDatabase(adminUrl, name);
}

let checkpointRefused = false;

/**
 * CHECKPOINT after a setup step, so the checkpoint its WAL forces (a million-row load writes more
 * than max_wal_size) does not land inside the measurement that follows, and every measurement
 * starts the same distance from one. Needs superuser or pg_checkpoint: on a DATABASE_URL without
 * it, said once and skipped.
 */
export async function checkpoint(pool: pg.Pool): Promise<void> {
  if (checkpointRefused) return;
  try {
    await pool.query('CHECKPOINT');
  } catch (error) {
    checkpointRefused = true;
    console.log(`  (CHECKPOINT refused: ${(error as Error).message}; measurements may include checkpoints)`);
  }
}

export const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

/** Seconds taken by fn. */
export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Milliseconds since `start` (a process.hrtime.bigint()). */
export const msSince = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

export const fmtInt = (n: number) => Math.round(n).toLocaleString('en');

/** The two tables the bench fills: the queue's, and the raw loops' minimal one (raw-loop.ts). */
export type BenchTable = 'job_queue' | 'raw_jobs';

/**
 * `count` PENDING BENCH rows in one statement (ids from the table's default), as fast as the
 * server can write them: enqueueMany would do the same in a thousand round trips.
 */
export async function loadBacklog(pool: pg.Pool, table: BenchTable, count: number): Promise<void> {
  await pool.query(`INSERT INTO ${table} (job_type, payload) SELECT 'BENCH', jsonb_build_object('n', g) FROM generate_series(1, $1::int) g`, [count]);
}

/**
 * Back to exactly `backlog` PENDING rows and nothing else, vacuumed: finished rows deleted, the
 * ones taken topped up (they queue behind the rest). So every measurement on a reused backlog
 * starts as a fresh load would: the same PENDING rows in a vacuumed ready index, fresh
 * statistics, no finished rows, just after a checkpoint; only the heap's free space differs.
 */
export async function restoreBacklog(pool: pg.Pool, table: BenchTable, backlog: number): Promise<void> {
  await pool.query(`DELETE FROM ${table} WHERE status <> 'PENDING'`);
  const {
    rows: [{ n }],
  } = await pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE status = 'PENDING'`);
  if (n < backlog) await loadBacklog(pool, table, backlog - n);
  await pool.query(`VACUUM ANALYZE ${table}`);
  await checkpoint(pool);
}
