/**
 * Plan regression guard: every statement the queue runs on its hot path (enqueue, claim, complete,
 * fail, leases, rescue, retention, limits, schedules) is planned against a realistic table, a
 * million jobs waiting, and must stay cheap enough that Postgres never JIT-compiles it.
 *
 * Why it matters: JIT is decided by the plan's estimated cost (jit_above_cost, 100,000 by default),
 * not by what the statement really does. A claim that touches ten rows but is estimated to touch a
 * hundred thousand gets compiled on every execution, 20-400 ms each, and the queue falls off a
 * cliff as the backlog grows (issue 10: 540 jobs/s at 100k pending). The statements are recorded
 * from real library calls, then explained the two ways Postgres may plan them: as the generic plan
 * the queue's own connections use (plan_cache_mode=force_generic_plan, parameters unknown) and as
 * the custom plan an unnamed statement gets behind PgBouncer (parameters known).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseQueue } from 'pg-conveyor';
import { createTestDatabase, useTestDatabase } from './helpers/db';
import { explainPlan, jobQueueReads, recordingPool, type Recorded } from './helpers/plans';

const db = useTestDatabase();
const BACKLOG = 1_000_000;

/** Statements that move or read jobs the caller names by id. */
const BY_ID = [
  'conveyor.jobCompleteIfRunning',
  'conveyor.jobCompleteManyIfRunning',
  'conveyor.jobCompleteIfRunningWithFollowUps',
  'conveyor.jobFailManyIfRunning',
  'conveyor.jobSetProgressIfRunning',
  'conveyor.jobExtendLeaseIfRunning',
  'conveyor.jobReleaseIfRunning',
  'conveyor.jobGetById',
  'conveyor.jobCancelIfUnfinished',
  'conveyor.jobRetryIfFinishedUnsuccessfully',
];

/** The statements a busy queue runs all the time, then the reads behind the admin page and metrics
 * (polled every few seconds); each must be recorded and must plan cheaply. */
const HOT = [
  'conveyor.jobInsertMany',
  'conveyor.jobInsertManySkippingTaken',
  'conveyor.jobNotifyReady',
  'conveyor.jobFindKeyHolders',
  'conveyor.jobClaimAvailable',
  ...BY_ID,
  'conveyor.jobRescueExpired',
  'conveyor.jobDeleteFinishedBefore',
  'conveyor.typeLimitList',
  'conveyor.typeLimitLock',
  'conveyor.typeLimitAllowance',
  'conveyor.typeLimitRecordStarts',
  'conveyor.scheduleListEnabled',
  'conveyor.jobGetOldestPending',
  'conveyor.jobListRecent',
  'conveyor.jobStatusEstimates',
  'conveyor.jobCountActiveCapped',
  'conveyor.jobCountActiveByType',
  'conveyor.jobCountsLock',
  'conveyor.jobCountsRollUp',
  'conveyor.jobCountsRange',
  'conveyor.jobListFailed',
  // The console's search, dry-run count and bulk batches: each reads one bounded window.
  'conveyor.jobFind.all',
  'conveyor.jobFindWindowEnd.all',
  'conveyor.jobFind.deadLetters',
  'conveyor.jobFindWindowEnd.deadLetters',
  'conveyor.jobCountWindow.all',
  'conveyor.jobCountWindow.deadLetters',
  'conveyor.jobBulkStep.retry.deadLetters',
  'conveyor.jobBulkStep.cancel.all',
  // A job's chain: its parent by primary key, its children through job_queue_parent_idx.
  'conveyor.jobLinks',
  // A cron drain's outlook (due jobs, the next timer) about once a second, and its invocation slot.
  'conveyor.jobOutlookForTypes',
  'conveyor.drainSlotTake',
  'conveyor.drainSlotReserve',
];

const recorded = new Map<string, Recorded>();
let pool: pg.Pool;
let queue: DatabaseQueue;

beforeAll(async () => {
  const admin = db.current.pool;
  // A million jobs waiting, plus the finished, failed and running rows a live queue carries.
  await admin.query(
    `INSERT INTO job_queue (job_type, payload)
     SELECT 'HOT', jsonb_build_object('n', g) FROM generate_series(1, $1) g`,
    [BACKLOG],
  );
  await admin.query(
    `INSERT INTO job_queue (job_type, status, attempts, result, started_at, completed_at, unique_key)
     SELECT 'HOT', 'COMPLETED', 1, '{"ok":true}', now(), now() - (g % 1000) * interval '1 minute', 'u:' || g
       FROM generate_series(1, 300000) g`,
  );
  await admin.query(
    `INSERT INTO job_queue (job_type, status, attempts, started_at, locked_until, locked_by, dedupe_key)
     SELECT 'HOT', 'PROCESSING', 1, now(), now() + interval '5 minutes', 'w', 'd:' || g FROM generate_series(1, 2000) g`,
  );
  await admin.query('VACUUM ANALYZE job_queue');

  pool = recordingPool(db.current.url, recorded);
  queue = new DatabaseQueue({ pool, rescueIntervalMs: 0 });
  await exerciseHotPath(queue);
}, 240_000);

afterAll(async () => {
  await queue?.close();
  await pool?.end();
});

/** Every hot library call once, so its statements are recorded with real parameters. */
async function exerciseHotPath(q: DatabaseQueue): Promise<void> {
  // Two at once: the second leaves its NOTIFY to a statement of its own (wakeups.ts).
  await Promise.all([q.enqueue({ jobType: 'HOT', payload: { a: 1 } }), q.enqueue({ jobType: 'HOT', payload: { a: 2 } })]);
  await q.enqueueMany([
    { jobType: 'HOT', dedupe: { key: 'd:1' } },
    { jobType: 'HOT', uniqueKey: 'u:1' },
  ]);
  const [a, b, c, d, e, bare] = await q.claimJobs(['HOT'], 6);
  await q.completeJob(a!, { ok: true });
  await q.completeJob(bare!.id, { ok: true });
  await Promise.all([q.completeJob(b!, { ok: 1 }), q.completeJob(c!, { ok: 2 })]);
  await q.completeJob(d!.id, { ok: true }, { enqueue: [{ jobType: 'HOT_NEXT' }] });
  await q.updateProgress(e!, 1, 2);
  await q.extendLeases([e!]);
  await q.failJob(e!, new Error('boom'));
  const [f, g] = await q.claimJobs(['HOT', 'OTHER'], 2);
  await q.releaseJob(f!);
  await q.cancelJob(g!.id);
  await q.retryJob(g!.id);
  await q.setTypeLimits('LIMITED', { concurrency: 5, rate: { limit: 100, periodMs: 1_000 } });
  await q.enqueue({ jobType: 'LIMITED' });
  await q.claimJobs(['LIMITED'], 3);
  await q.rescueExpired();
  await q.cleanup(1);
  await q.schedules.register('hot-plans', { cron: '* * * * *', jobType: 'HOT' });
  await q.schedules.fireDue();
  await q.getJob(a!.id);
  await q.console.getJobLinks(d!.id);
  await q.oldestPendingJob();
  await q.listJobs({ limit: 20 });
  await q.getQueueStats();
  await q.countActiveByType();
  await q.console.getThroughput(60);
  await q.console.listFailedJobs({ limit: 25 });
  await q.console.findJobs({ payload: { path: ['n'], equals: 5 } });
  await q.console.findJobs({ jobType: 'HOT', status: 'FAILED' }, { limit: 5 });
  await q.console.countJobs({ jobType: 'HOT', status: 'FAILED' });
  await q.console.countJobs({ error: 'boom' }, { budgetMs: 0 });
  await q.console.startBulkAction({ action: 'retry', filter: { jobType: 'HOT', status: 'FAILED' } });
  await q.console.startBulkAction({ action: 'cancel', filter: { id: a!.id } });
  await q.pendingOutlook(['HOT', 'LIMITED']);
  await q.invocations.take('/hot', { cap: 4, leaseMs: 60_000 });
  await q.invocations.reserve('/hot', { cap: 4, want: 3, leaseMs: 30_000 });
}

/**
 * Counts of the whole active set (admin page, metrics): with most of the table waiting, reading
 * the table is as cheap as reading the ready index, and the planner may pick either.
 */
const COUNTS_EVERY_ACTIVE_JOB = ['conveyor.jobCountActiveCapped', 'conveyor.jobCountActiveByType'];

interface PlanCost {
  jit: boolean;
  cost: number;
  seqScan: boolean;
}

async function explain(client: pg.PoolClient, mode: 'force_generic_plan' | 'force_custom_plan', name: string): Promise<PlanCost> {
  const plan = await explainPlan(client, mode, recorded.get(name)!);
  return { jit: plan.JIT !== undefined, cost: plan.Plan['Total Cost'], seqScan: jobQueueReads(plan.Plan).includes('Seq Scan') };
}

/** For each by-id statement and plan mode, how its plan reads job_queue other than by primary key. */
async function readsBesidesPrimaryKey(client: pg.PoolClient, statements: Map<string, Recorded>): Promise<Record<string, string>> {
  const reads: Record<string, string> = {};
  for (const name of BY_ID) {
    for (const mode of ['force_generic_plan', 'force_custom_plan'] as const) {
      const plan = await explainPlan(client, mode, statements.get(name)!);
      const off = jobQueueReads(plan.Plan).filter((read) => read !== 'job_queue_pkey');
      if (off.length > 0) reads[`${name} (${mode})`] = off.join(', ');
    }
  }
  return reads;
}

describe(`hot statements at ${BACKLOG.toLocaleString('en')} jobs waiting`, () => {
  it('records every hot statement from real library calls', () => {
    expect(HOT.filter((name) => !recorded.has(name))).toEqual([]);
  });

  it('plans each one below jit_above_cost, generic and custom, so none is JIT-compiled or reads the whole table', async () => {
    const client = await db.current.pool.connect();
    try {
      // JIT on, with Postgres's default thresholds, whatever the test server's configuration says.
      await client.query('SET jit = on');
      await client.query('SET jit_above_cost = 100000');
      const report: Record<string, { generic: number; custom: number }> = {};
      const jitted: string[] = [];
      const seqScans: string[] = [];
      for (const name of HOT) {
        // Rolled back: EXPLAIN does not run the statement, but PREPARE of a CTE with DML is still
        // kept away from the data this way.
        await client.query('BEGIN');
        const generic = await explain(client, 'force_generic_plan', name);
        const custom = await explain(client, 'force_custom_plan', name);
        await client.query('ROLLBACK');
        report[name.replace('conveyor.', '')] = { generic: Math.round(generic.cost), custom: Math.round(custom.cost) };
        if (generic.jit || generic.cost >= 100_000) jitted.push(`${name} (generic plan, cost ${Math.round(generic.cost)})`);
        if (custom.jit || custom.cost >= 100_000) jitted.push(`${name} (custom plan, cost ${Math.round(custom.cost)})`);
        // Cheap enough for JIT is not cheap: reading the whole table is a cliff of its own.
        if ((generic.seqScan || custom.seqScan) && !COUNTS_EVERY_ACTIVE_JOB.includes(name)) seqScans.push(name);
      }
      console.table(report);
      expect(jitted).toEqual([]);
      expect(seqScans).toEqual([]);
    } finally {
      await client.query('DEALLOCATE ALL').catch(() => {});
      client.release();
    }
  }, 60_000);

  it('finds the jobs a statement names by their primary key, even when statistics count none running', async () => {
    // The usual picture right after an ANALYZE: a million waiting, (almost) none leased. A plan
    // that then trusts a partial index on the running state to be empty walks every leased job
    // and every entry completions left dead since the last vacuum, for each job named: a batch
    // completion took 7 ms instead of 1.4 under load, 50-70 ms with 20,000 jobs leased.
    const client = await db.current.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`UPDATE job_queue SET status = 'PENDING', locked_until = NULL, locked_by = NULL WHERE status = 'PROCESSING'`);
      await client.query('ANALYZE job_queue');
      expect(await readsBesidesPrimaryKey(client, recorded)).toEqual({});
    } finally {
      // The statistics are transactional: rolled back with the update.
      await client.query('ROLLBACK').catch(() => {});
      await client.query('DEALLOCATE ALL').catch(() => {});
      client.release();
    }
  }, 60_000);
});

describe('statements that name jobs by id, on a small compact table', () => {
  // 10,000 jobs in a freshly vacuumed table: about 200 pages, so reading all of it is estimated
  // below a hundred primary-key probes. A completion planned against the default guess of 100
  // rows for a set-returning function then read the whole table for each job it completed:
  // 2.5 ms a completion instead of 0.35, and a serverless drain at 40 % of its usual rate.
  const SMALL = 10_000;
  const small = new Map<string, Recorded>();
  let smallDb: Awaited<ReturnType<typeof createTestDatabase>>;
  let smallPool: pg.Pool;
  let smallQueue: DatabaseQueue;

  beforeAll(async () => {
    smallDb = await createTestDatabase();
    await smallDb.pool.query(`INSERT INTO job_queue (job_type, payload) SELECT 'HOT', jsonb_build_object('n', g) FROM generate_series(1, $1) g`, [SMALL]);
    await smallDb.pool.query('VACUUM ANALYZE job_queue');
    smallPool = recordingPool(smallDb.url, small);
    smallQueue = new DatabaseQueue({ pool: smallPool, rescueIntervalMs: 0 });
    await exerciseHotPath(smallQueue);
    // The picture the plans are made for: the table as vacuumed, statistics counting none running.
    await smallDb.pool.query(`UPDATE job_queue SET status = 'PENDING', locked_until = NULL, locked_by = NULL WHERE status = 'PROCESSING'`);
    await smallDb.pool.query('VACUUM ANALYZE job_queue');
  }, 120_000);

  afterAll(async () => {
    await smallQueue?.close();
    await smallPool?.end();
    await smallDb?.drop();
  });

  it('reads them by primary key, generic and custom, never the whole table', async () => {
    const client = await smallDb.pool.connect();
    try {
      const {
        rows: [size],
      } = await client.query<{ pages: number }>(`SELECT relpages AS pages FROM pg_class WHERE relname = 'job_queue'`);
      expect(size!.pages).toBeLessThan(400);
      await client.query('BEGIN');
      expect(await readsBesidesPrimaryKey(client, small)).toEqual({});
    } finally {
      await client.query('ROLLBACK').catch(() => {});
      await client.query('DEALLOCATE ALL').catch(() => {});
      client.release();
    }
  }, 60_000);
});
