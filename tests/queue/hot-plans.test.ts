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
// pg's own conversion of a parameter to its text form (arrays, dates, JSON), as it sends them.
// @ts-expect-error pg ships no types for its utils module
import { prepareValue } from 'pg/lib/utils.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseQueue } from 'pg-conveyor';
import { useTestDatabase } from '../helpers/db';

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
];

interface Recorded { text: string; values: unknown[] }
const recorded = new Map<string, Recorded>();
let pool: pg.Pool;
let queue: DatabaseQueue;

/** A pool whose clients note the first text and parameters of every named statement they run. */
function recordingPool(url: string): pg.Pool {
  const p = new pg.Pool({ connectionString: url, max: 3, options: '-c plan_cache_mode=force_generic_plan' });
  p.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as { query: unknown }).query = (config: unknown, ...rest: unknown[]) => {
      const c = config as { name?: string; text?: string; values?: unknown[] };
      if (typeof c === 'object' && c?.name?.startsWith('conveyor.') && !recorded.has(c.name)) {
        recorded.set(c.name, { text: c.text!, values: c.values ?? [] });
      }
      return query(config, ...rest);
    };
  });
  return p;
}

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

  pool = recordingPool(db.current.url);
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
  await q.enqueueMany([{ jobType: 'HOT', dedupe: { key: 'd:1' } }, { jobType: 'HOT', uniqueKey: 'u:1' }]);
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
  await q.schedule('hot-plans', { cron: '* * * * *', jobType: 'HOT' });
  await q.fireDueSchedules();
  await q.getJob(a!.id);
  await q.getJobLinks(d!.id);
  await q.oldestPendingJob();
  await q.listJobs({ limit: 20 });
  await q.getQueueStats();
  await q.countActiveByType();
  await q.getThroughput(60);
  await q.listFailedJobs({ limit: 25 });
  await q.findJobs({ payload: { path: ['n'], equals: 5 } });
  await q.findJobs({ jobType: 'HOT', status: 'FAILED' }, { limit: 5 });
  await q.countJobs({ jobType: 'HOT', status: 'FAILED' });
  await q.countJobs({ error: 'boom' }, { budgetMs: 0 });
  await q.startBulkAction({ action: 'retry', filter: { jobType: 'HOT', status: 'FAILED' } });
  await q.startBulkAction({ action: 'cancel', filter: { id: a!.id } });
}

/**
 * Counts of the whole active set (admin page, metrics): with most of the table waiting, reading
 * the table is as cheap as reading the ready index, and the planner may pick either.
 */
const COUNTS_EVERY_ACTIVE_JOB = ['conveyor.jobCountActiveCapped', 'conveyor.jobCountActiveByType'];

interface PlanNode { 'Node Type': string; 'Relation Name'?: string; 'Index Name'?: string; Plans?: PlanNode[] }

/** How each plan node reads job_queue: "Seq Scan", or the name of the index it scans. */
function jobQueueReads(node: PlanNode): string[] {
  const own = node['Relation Name'] === 'job_queue' && /Scan/.test(node['Node Type'])
    ? [node['Index Name'] ?? node['Node Type']] : [];
  return [...own, ...(node.Plans ?? []).flatMap(jobQueueReads)];
}

interface PlanCost { jit: boolean; cost: number; seqScan: boolean }

async function explainPlan(client: pg.PoolClient, mode: 'force_generic_plan' | 'force_custom_plan', name: string) {
  const { text, values } = recorded.get(name)!;
  await client.query(`SET plan_cache_mode = ${mode}`);
  await client.query('DEALLOCATE ALL');
  await client.query(`PREPARE hot AS ${text}`);
  const args = await Promise.all(values.map(async (v) => (v === null || v === undefined ? 'NULL' : client.escapeLiteral(await asText(client, v)))));
  const { rows } = await client.query(`EXPLAIN (FORMAT JSON) EXECUTE hot${args.length ? `(${args.join(', ')})` : ''}`);
  return (rows[0]['QUERY PLAN'] as [{ Plan: PlanNode & { 'Total Cost': number }; JIT?: unknown }])[0];
}

/** A parameter as text; a Buffer is a binary uuid[] (literals.ts), read back by the server. */
async function asText(client: pg.PoolClient, value: unknown): Promise<string> {
  if (!Buffer.isBuffer(value)) return String(prepareValue(value));
  expect(value.readInt32BE(8)).toBe(2950);
  return (await client.query<{ ids: string }>('SELECT $1::uuid[]::text AS ids', [value])).rows[0]!.ids;
}

async function explain(client: pg.PoolClient, mode: 'force_generic_plan' | 'force_custom_plan', name: string): Promise<PlanCost> {
  const plan = await explainPlan(client, mode, name);
  return { jit: plan.JIT !== undefined, cost: plan.Plan['Total Cost'], seqScan: jobQueueReads(plan.Plan).includes('Seq Scan') };
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
      const reads: Record<string, string> = {};
      for (const name of BY_ID) {
        for (const mode of ['force_generic_plan', 'force_custom_plan'] as const) {
          const plan = await explainPlan(client, mode, name);
          const off = jobQueueReads(plan.Plan).filter((read) => read !== 'job_queue_pkey');
          if (off.length > 0) reads[`${name} (${mode})`] = off.join(', ');
        }
      }
      expect(reads).toEqual({});
    } finally {
      // The statistics are transactional: rolled back with the update.
      await client.query('ROLLBACK').catch(() => {});
      await client.query('DEALLOCATE ALL').catch(() => {});
      client.release();
    }
  }, 60_000);
});
