/**
 * A map item runs once even when the run's advance runs again after its fan-out (its worker died
 * before completing it) and reads the map just before the item is stored: the re-run makes the
 * item's job again, and that job must not run the item's body a second time. Under worker kills
 * (tests/chaos/workflow-crash.test.ts) the window is one round trip; here it is held open.
 */
import pg from 'pg';
import { expect, it, onTestFinished } from 'vitest';
import { z } from 'zod';
import { DatabaseQueue, drainQueue } from 'pg-conveyor';
import { defineWorkflow, Workflows } from 'pg-conveyor/workflows';
import { useTestDatabase } from './helpers/db';
import { until } from './helpers/wait';

const db = useTestDatabase();

interface Hook {
  pattern: RegExp;
  run: () => Promise<unknown>;
}

/** A pool that runs each hook once, after the first statement matching it has answered. */
function poolWithHooks(url: string, hooks: Hook[]): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  pool.on('error', () => {});
  const query = pool.query.bind(pool) as (config: { text: string }) => Promise<unknown>;
  (pool as unknown as { query: typeof query }).query = async (config) => {
    const result = await query(config);
    const hook = hooks.find((h) => h.pattern.test(config.text));
    if (hook) {
      hooks.splice(hooks.indexOf(hook), 1);
      await hook.run();
    }
    return result;
  };
  return pool;
}

it('an item stored while a re-run advance read its map does not run again', async () => {
  await db.current.pool.query('CREATE TABLE ledger (run_id uuid, step text)');
  let itemsStarted = 0;
  let finishItems = () => {};
  const itemsMayFinish = new Promise<void>((resolve) => (finishItems = resolve));
  const fanOut = defineWorkflow({
    name: 'rerun-fan-out',
    input: z.object({}),
    run: async (ctx) => {
      const items = await ctx.step('list', () => [1, 2]);
      const doubled = await ctx.map('double', items, async (n, i) => {
        await db.current.pool.query('INSERT INTO ledger (run_id, step) VALUES ($1, $2)', [ctx.runId, `item ${i}`]);
        itemsStarted++;
        await itemsMayFinish;
        return n * 2;
      });
      return ctx.step('sum', () => doubled.reduce((a, b) => a + b, 0));
    },
  });
  const type = 'workflow:rerun-fan-out';
  const queue = new DatabaseQueue({ connectionString: db.current.url, poolMax: 6, logger: false, backoff: { baseMs: 0 } });
  onTestFinished(() => queue.close());
  const workflows = new Workflows(queue, [fanOut]);
  const drain = (maxJobs: number, q = queue, w = workflows) => drainQueue(q, { types: [type], handler: (job, ctx) => w.handlers()[type]!(job, ctx), maxJobs });
  const { runId } = await workflows.start('rerun-fan-out', {});
  // The advance fans out (a job per item), then its attempt fails instead of completing, as when
  // its worker dies first: it will run again.
  await drainQueue(queue, {
    types: [type],
    maxJobs: 1,
    handler: async (job, ctx) => {
      await workflows.handlers()[type]!(job, ctx);
      throw new Error('worker died');
    },
  });
  const items = [drain(1), drain(1)]; // both items start, and wait
  await until(() => itemsStarted === 2);

  const hooks: Hook[] = [
    // While the re-run reads which items are stored, both finish (the last wakes the run; that
    // advance waits for the re-run, which holds the run's concurrency key).
    { pattern: /^SELECT idx, output, error FROM workflow_map_items/, run: () => (finishItems(), Promise.all(items)) },
    // As the re-run finishes, other workers take the item jobs it made.
    { pattern: /^UPDATE workflow_runs SET current_step/, run: () => drain(2) },
  ];
  const hooked = new DatabaseQueue({ pool: poolWithHooks(db.current.url, hooks), logger: false });
  onTestFinished(() => hooked.pool.end());
  await drain(1, hooked, new Workflows(hooked, [fanOut]));
  await drain(10);

  expect(hooks).toEqual([]); // the interleaving happened
  const {
    rows: [made],
  } = await db.current.pool.query(`SELECT count(*)::int AS n FROM job_queue WHERE dedupe_key LIKE $1`, [`workflow:${runId}:%`]);
  expect(made.n).toBe(4); // the re-run made both items' jobs again
  const run = await workflows.getRun(runId);
  expect([run?.status, run?.output]).toEqual(['COMPLETED', 6]);
  const { rows } = await db.current.pool.query('SELECT step, count(*)::int AS n FROM ledger GROUP BY step ORDER BY step');
  expect(rows).toEqual([
    { step: 'item 0', n: 1 },
    { step: 'item 1', n: 1 },
  ]);
});
