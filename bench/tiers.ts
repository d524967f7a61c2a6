/**
 * Backlog tiers: does processing slow down when many jobs wait? For each backlog B, the same
 * number of jobs is processed from a table holding B PENDING jobs, by the worker process, by
 * serverless drains and by the raw claim-1 loop on a raw table of the same backlog; each figure
 * is then set against the smallest tier's (goal: 90 % or more at 1,000,000).
 *
 * A backlog is loaded once per tier, in a database of its own, and reused by every measurement of
 * that tier, to keep the run short (a million rows take a while to write and vacuum). The
 * measurement stays fair because
 * each one starts from restoreBacklog: the finished rows of the previous one
 * deleted, the jobs it took topped up, the table vacuumed, analyzed and checkpointed, so every
 * measurement sees exactly B PENDING rows in a vacuumed ready index with fresh statistics, as
 * after a fresh load.
 */
import pg from 'pg';
import { migrate } from '../src/lib/db/migrations';
import { dropDatabase, fmtInt, freshDatabase, loadBacklog, restoreBacklog, timed } from './bench-db';
import { drainInvocations, workerCompletes } from './conveyor-loops';
import { RAW_SCHEMA, rawDrain } from './raw-loop';

export interface TierOptions {
  backlogs: number[];
  /** Jobs each measurement completes (BENCH_TIER_JOBS). */
  jobs: number;
  /** Worker concurrency, drain invocations at once, raw loops. */
  concurrency: number;
  rounds: number;
}

/** Best jobs/s of each contestant at one backlog. */
export interface TierResult {
  backlog: number;
  worker: number;
  drain: number;
  raw: number;
}

type Contestant = 'worker' | 'drain' | 'raw';

/**
 * One measurement, in jobs/s, then its table restored: both tables are restored after each use
 * rather than before, so the next measurement never shares the server with autovacuum cleaning up
 * after this one.
 */
async function measure(url: string, pool: pg.Pool, which: Contestant, backlog: number, options: TierOptions): Promise<number> {
  const jobs = Math.min(options.jobs, backlog);
  const { concurrency } = options;
  const table = which === 'raw' ? 'raw_jobs' : 'job_queue';
  const vacuums = async () =>
    (await pool.query<{ n: number }>('SELECT (autovacuum_count + autoanalyze_count)::int AS n FROM pg_stat_user_tables WHERE relname = $1', [table])).rows[0]!
      .n;
  const vacuumsBefore = await vacuums();
  let done = jobs;
  let seconds: number;
  if (which === 'worker') seconds = await workerCompletes(url, jobs, concurrency);
  else if (which === 'drain') {
    // Serverless: `concurrency` invocations at once, each stopped by its maxJobs.
    seconds = await timed(async () => {
      done = await drainInvocations(url, concurrency, Math.ceil(jobs / concurrency));
    });
  } else
    seconds = await timed(async () => {
      done = await rawDrain(url, concurrency, 1, jobs);
    });
  if (done < jobs) throw new Error(`${which} completed ${done} of ${jobs} jobs`);
  // Statistics reach pg_stat_user_tables within a second or so: read after the restore's own work.
  const rate = done / seconds;
  await restoreBacklog(pool, table, backlog);
  const during = (await vacuums()) - vacuumsBefore;
  console.log(
    `    ${fmtInt(backlog)} ${which}: ${fmtInt(rate)} jobs/s${during > 0 ? ` (autovacuum or autoanalyze of ${table} ran ${during}x during it or its restore)` : ''}`,
  );
  return rate;
}

/** A database of its own holding `backlog` PENDING jobs in each table, loaded and vacuumed. */
interface TierDatabase {
  backlog: number;
  url: string;
  pool: pg.Pool;
}

async function loadTier(serverUrl: string, backlog: number): Promise<TierDatabase> {
  const url = await freshDatabase(serverUrl, `conveyor_bench_tier_${backlog}`);
  await migrate({ connectionString: url });
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  await pool.query(RAW_SCHEMA);
  for (const table of ['job_queue', 'raw_jobs'] as const) {
    await loadBacklog(pool, table, backlog);
    await restoreBacklog(pool, table, backlog);
  }
  return { backlog, url, pool };
}

/**
 * Every tier is loaded first, each in a database of its own, and each round then measures every
 * tier in turn (largest first in every other round): a slow spell of this machine (a quarter of a tier's rate, between identical
 * rounds) lands on all tiers of a round alike instead of on whichever tier ran during it.
 */
export async function runTiers(serverUrl: string, options: TierOptions): Promise<TierResult[]> {
  const tiers: TierDatabase[] = [];
  try {
    for (const backlog of [...options.backlogs].sort((a, b) => a - b)) tiers.push(await loadTier(serverUrl, backlog));
    const best = tiers.map((): Record<Contestant, number> => ({ worker: 0, drain: 0, raw: 0 }));
    for (let round = 0; round < options.rounds; round++) {
      // Alternate the orders, so no contestant always runs on the freshest table or warmest cache,
      // and no tier always runs first in a round (this machine's speed drifts within a round too).
      const order: Contestant[] = round % 2 === 0 ? ['worker', 'drain', 'raw'] : ['raw', 'drain', 'worker'];
      const tierOrder = [...tiers.keys()];
      if (round % 2 === 1) tierOrder.reverse();
      for (const i of tierOrder) {
        const tier = tiers[i]!;
        for (const which of order) best[i]![which] = Math.max(best[i]![which], await measure(tier.url, tier.pool, which, tier.backlog, options));
      }
    }
    return tiers.map((tier, i) => {
      const b = best[i]!;
      console.log(`  backlog ${fmtInt(tier.backlog)}: worker ${fmtInt(b.worker)} jobs/s, drain ${fmtInt(b.drain)} jobs/s, raw claim-1 ${fmtInt(b.raw)} jobs/s`);
      return { backlog: tier.backlog, ...b };
    });
  } finally {
    // Leave no million-row databases behind for the sections that follow.
    for (const tier of tiers) {
      await tier.pool.end();
      await dropDatabase(serverUrl, `conveyor_bench_tier_${tier.backlog}`);
    }
  }
}
