import pg from 'pg';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DatabaseQueue, drainQueue, ManualClock, NonRetryableError, ValidationError } from 'pg-conveyor';
import { Worker } from 'pg-conveyor/worker';
import { defineWorkflow, Workflows, type WorkflowDefinition } from 'pg-conveyor/workflows';
import { useQueue } from './helpers/queue';
import { until } from './helpers/wait';

const t = useQueue({ reset: true });
const db = t.db;
let clock: ManualClock;
let queue: DatabaseQueue;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  await db.current.pool.query('CREATE TABLE ledger (run_id uuid, step text, at timestamptz DEFAULT clock_timestamp())');
});
beforeEach(async () => {
  await db.current.pool.query('TRUNCATE ledger, workflow_runs CASCADE');
  await queue?.close();
  clock = new ManualClock(new Date());
  // A queue of its own per test, for a fresh clock; the previous one is closed first.
  queue = t.makeQueue({ clock, backoff: { baseMs: 1_000, jitter: 0 } });
});

/** A step's side effect: one ledger row each time its body runs. */
const record = (runId: string, step: string) => db.current.pool.query('INSERT INTO ledger (run_id, step) VALUES ($1, $2)', [runId, step]);
const ledger = async (runId: string) =>
  (
    await db.current.pool.query<{ step: string; n: number }>('SELECT step, count(*)::int AS n FROM ledger WHERE run_id = $1 GROUP BY step ORDER BY step', [
      runId,
    ])
  ).rows;
/** One cron tick: a drain of the workflows' job types within `budgetMs`. */
const tick = (workflows: Workflows, budgetMs = 1_000, maxJobs?: number) => {
  const handlers = workflows.handlers();
  // A claim needs 100 ms left (the default, 1 s, would leave a 1 s tick nothing to claim with).
  return drainQueue(queue, { types: Object.keys(handlers), handler: (job, ctx) => handlers[job.jobType]!(job, ctx), budgetMs, minTimeToClaimMs: 100, maxJobs });
};

const fiveSteps = defineWorkflow({
  name: 'five-steps',
  input: z.object({ user: z.string() }),
  run: async (ctx, { user }) => {
    const results: string[] = [];
    for (const step of ['one', 'two', 'three']) {
      results.push(
        await ctx.step(step, async () => {
          await record(ctx.runId, step);
          await sleep(300); // work: three of these do not fit in one 1 s tick
          return `${step} for ${user}`;
        }),
      );
    }
    await ctx.sleep('a day', 86_400_000);
    for (const step of ['four', 'five']) results.push(await ctx.step(step, async () => (await record(ctx.runId, step), `${step} done`)));
    return { results };
  },
});

describe('workflows', () => {
  it('a 5-step workflow with a sleep completes across several 1 s cron ticks, each step run exactly once', async () => {
    const workflows = new Workflows(queue, [fiveSteps]);
    const { runId, created } = await workflows.start('five-steps', { user: 'ada' });
    expect(created).toBe(true);
    let ticks = 0;
    for (; ticks < 30; ticks++) {
      const run = (await workflows.getRun(runId))!;
      if (run.status !== 'RUNNING') break;
      if (run.currentStep === 'a day') clock.advance(86_400_000); // the sleep holds nothing; time passes
      await tick(workflows);
    }
    const run = (await workflows.getRun(runId))!;
    expect(run.status).toBe('COMPLETED');
    expect(run.currentStep).toBeNull(); // finished: no step is current
    expect((await db.current.pool.query('SELECT current_step FROM workflow_runs WHERE id = $1', [runId])).rows[0].current_step).toBeNull();
    expect(run.output).toEqual({ results: ['one for ada', 'two for ada', 'three for ada', 'four done', 'five done'] });
    expect(ticks).toBeGreaterThanOrEqual(2); // suspended within the budget, and at the sleep
    expect(run.steps.map((s) => `${s.kind}:${s.name}`)).toEqual(['step:one', 'step:two', 'step:three', 'sleep:a day', 'step:four', 'step:five']);
    expect(await ledger(runId)).toEqual(['five', 'four', 'one', 'three', 'two'].map((step) => ({ step, n: 1 })));
    // Every advancing job completed: none left behind, none failed.
    const jobs = await db.current.pool.query(`SELECT status, count(*)::int AS n FROM job_queue GROUP BY status`);
    expect(jobs.rows).toEqual([{ status: 'COMPLETED', n: expect.any(Number) }]);
  });

  it('the sleep suspends the run: nothing runs until its end, and no worker slot or job is held meanwhile', async () => {
    const workflows = new Workflows(queue, [fiveSteps]);
    const { runId } = await workflows.start('five-steps', { user: 'bo' });
    for (let i = 0; i < 10 && (await workflows.getRun(runId))!.currentStep !== 'a day'; i++) await tick(workflows);
    expect((await workflows.getRun(runId))!.currentStep).toBe('a day');
    expect(await tick(workflows)).toMatchObject({ processed: 0 });
    const waiting = await db.current.pool.query(`SELECT status, run_at - $1::timestamptz AS due_in FROM job_queue WHERE status <> 'COMPLETED'`, [clock.now()]);
    expect(waiting.rows).toHaveLength(1);
    expect(waiting.rows[0].status).toBe('PENDING');
    clock.advance(86_400_000);
    await tick(workflows);
    expect((await workflows.getRun(runId))!.status).toBe('COMPLETED');
  });

  it('a failing step is retried with the queue’s backoff; the steps before it are not run again', async () => {
    let calls = 0;
    const flaky = defineWorkflow({
      name: 'flaky',
      input: z.object({}),
      run: async (ctx) => {
        await ctx.step('before', () => record(ctx.runId, 'before').then(() => 1));
        const value = await ctx.step('flaky', async () => {
          await record(ctx.runId, 'flaky');
          if (++calls < 3) throw new Error(`partner down (${calls})`);
          return 'finally';
        });
        await ctx.step('after', () => record(ctx.runId, 'after').then(() => 2));
        return value;
      },
    });
    const workflows = new Workflows(queue, [flaky]);
    const { runId } = await workflows.start('flaky', {});
    await tick(workflows);
    // The timeline while the step waits for its retry: where it is, its attempts and their errors.
    const retrying = (await workflows.getRun(runId))!;
    expect(retrying).toMatchObject({ status: 'RUNNING', currentStep: 'flaky', advance: { status: 'PENDING', attempts: 1, maxAttempts: 3 } });
    expect(retrying.advance!.errors.map((e) => e.message)).toEqual(['partner down (1)']);
    expect(retrying.steps.map((s) => [s.name, typeof s.durationMs])).toEqual([['before', 'number']]);
    for (let i = 0; i < 10 && (await workflows.getRun(runId))!.status === 'RUNNING'; i++) {
      await tick(workflows);
      clock.advance(60_000); // past any backoff
    }
    const run = (await workflows.getRun(runId))!;
    expect(run).toMatchObject({ status: 'COMPLETED', output: 'finally', advance: null });
    expect(await ledger(runId)).toEqual([
      { step: 'after', n: 1 },
      { step: 'before', n: 1 },
      { step: 'flaky', n: 3 },
    ]);
    expect(run.steps.map((s) => [s.name, s.attempt])).toEqual([
      ['before', 1],
      ['flaky', 3],
      ['after', 1],
    ]); // a fresh job after the retried step
    const errors = await db.current.pool.query(`SELECT errors FROM job_queue WHERE jsonb_array_length(errors) > 0`);
    expect(errors.rows[0].errors.map((e: { message: string }) => e.message)).toEqual(['partner down (1)', 'partner down (2)']);
  });

  it('fails the run when a step’s attempts are spent, or at once on NonRetryableError', async () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the definitions take any input
    const failing = (name: string, error: () => Error): WorkflowDefinition<any, unknown> =>
      defineWorkflow({
        name,
        input: z.object({}),
        maxAttempts: 2,
        run: async (ctx) =>
          ctx.step('doomed', () => {
            throw error();
          }),
      });
    const workflows = new Workflows(queue, [failing('spent', () => new Error('still down')), failing('refused', () => new NonRetryableError('bad address'))]);
    const spent = await workflows.start('spent', {});
    const refused = await workflows.start('refused', {});
    for (let i = 0; i < 5; i++) {
      await tick(workflows);
      clock.advance(60_000);
    }
    expect(await workflows.getRun(spent.runId)).toMatchObject({ status: 'FAILED', error: 'Error: still down' });
    expect(await workflows.getRun(refused.runId)).toMatchObject({ status: 'FAILED', error: 'NonRetryableError: bad address' });
    const jobs = await db.current.pool.query(`SELECT job_type, status, attempts FROM job_queue ORDER BY job_type`);
    expect(jobs.rows).toEqual([
      { job_type: 'workflow:refused', status: 'FAILED', attempts: 1 },
      { job_type: 'workflow:spent', status: 'FAILED', attempts: 2 },
    ]);
  });

  it('detects a workflow changed under a live run (non-determinism) and fails it, saying where', async () => {
    const v1 = defineWorkflow({
      name: 'changing',
      input: z.object({}),
      run: async (ctx) => {
        await ctx.step('charge card', () => 'charged');
        await ctx.sleep('cool off', 1_000);
        return ctx.step('ship', () => 'shipped');
      },
    });
    const v2 = defineWorkflow({
      name: 'changing',
      input: z.object({}),
      run: async (ctx) => {
        await ctx.step('reserve stock', () => 'reserved'); // a new first step, deployed while the run sleeps
        await ctx.step('charge card', () => 'charged');
        return ctx.step('ship', () => 'shipped');
      },
    });
    const { runId } = await new Workflows(queue, [v1]).start('changing', {});
    await tick(new Workflows(queue, [v1]));
    clock.advance(1_000);
    await tick(new Workflows(queue, [v2]));
    const run = (await new Workflows(queue, [v2]).getRun(runId))!;
    expect(run.status).toBe('FAILED');
    expect(run.error).toMatch(/NonDeterminismError: .*call 1 is step "reserve stock", but the run stored step "charge card" there/);
  });

  it('started in a transaction that rolls back, leaves nothing; an idempotency key starts one run', async () => {
    const workflows = new Workflows(queue, [fiveSteps]);
    const client = new pg.Client({ connectionString: db.current.url });
    await client.connect();
    await client.query('BEGIN');
    await workflows.start('five-steps', { user: 'rolled back' }, { tx: client });
    await client.query('ROLLBACK');
    await client.end();
    expect((await db.current.pool.query('SELECT count(*)::int AS n FROM workflow_runs')).rows[0].n).toBe(0);
    expect((await db.current.pool.query('SELECT count(*)::int AS n FROM job_queue')).rows[0].n).toBe(0);

    const first = await workflows.start('five-steps', { user: 'ada' }, { idempotencyKey: 'signup:ada' });
    const again = await workflows.start('five-steps', { user: 'ada' }, { idempotencyKey: 'signup:ada' });
    expect(again).toEqual({ runId: first.runId, created: false });
    expect((await db.current.pool.query('SELECT count(*)::int AS n FROM job_queue')).rows[0].n).toBe(1);
  });

  it('cancelling a sleeping run cancels its job: nothing runs afterwards', async () => {
    const workflows = new Workflows(queue, [fiveSteps]);
    const { runId } = await workflows.start('five-steps', { user: 'cy' });
    for (let i = 0; i < 10 && (await workflows.getRun(runId))!.currentStep !== 'a day'; i++) await tick(workflows);
    const cancelled = (await workflows.cancelRun(runId))!;
    expect(cancelled.status).toBe('CANCELLED');
    expect((await db.current.pool.query(`SELECT count(*)::int AS n FROM job_queue WHERE status IN ('PENDING', 'PROCESSING')`)).rows[0].n).toBe(0);
    clock.advance(86_400_000);
    expect(await tick(workflows)).toMatchObject({ processed: 0 });
    expect((await ledger(runId)).map((r) => r.step)).not.toContain('four');
  });

  it('bad input is a ValidationError naming the field, and writes nothing (and a compile error where types are known)', async () => {
    const workflows = new Workflows(queue, [fiveSteps]);
    // @ts-expect-error -- user is a string
    await expect(workflows.start('five-steps', { user: 42 })).rejects.toThrow(ValidationError);
    // @ts-expect-error -- user is a string
    await expect(workflows.start(fiveSteps, { user: 42 })).rejects.toThrow(/user/);
    // @ts-expect-error -- no such workflow
    await expect(workflows.start('nope', {})).rejects.toThrow(/No workflow named nope/);
    expect(() => defineWorkflow({ name: 'bad name!', input: z.object({}), run: async () => null })).toThrow(ValidationError);
    expect((await db.current.pool.query('SELECT count(*)::int AS n FROM workflow_runs')).rows[0].n).toBe(0);
  });

  it('long-running workers advance runs too, several at once', async () => {
    const quick = defineWorkflow({
      name: 'quick',
      input: z.object({ n: z.number() }),
      run: async (ctx, { n }) => {
        const a = await ctx.step('a', async () => (await record(ctx.runId, 'a'), n * 2));
        const b = await ctx.step('b', async () => (await record(ctx.runId, 'b'), a + 1));
        return { n, b };
      },
    });
    const workflows = new Workflows(queue, [quick]);
    const runs = await Promise.all(Array.from({ length: 20 }, (_, n) => workflows.start('quick', { n })));
    const worker = new Worker({
      queue,
      connectionString: db.current.url,
      logger: false,
      handlers: Object.fromEntries(Object.entries(workflows.handlers()).map(([type, handler]) => [type, { handler, concurrency: 4 }])),
    });
    await worker.start();
    try {
      await until(async () => (await db.current.pool.query(`SELECT count(*)::int AS n FROM workflow_runs WHERE status = 'COMPLETED'`)).rows[0].n === 20);
    } finally {
      await worker.stop();
    }
    for (const [n, { runId }] of runs.entries()) expect((await workflows.getRun(runId))!.output).toEqual({ n, b: n * 2 + 1 });
    expect((await db.current.pool.query('SELECT count(*)::int AS n FROM ledger')).rows[0].n).toBe(40);
  });

  describe('waiting for events', () => {
    const approval = defineWorkflow({
      name: 'approval',
      input: z.object({ orderId: z.string() }),
      run: async (ctx, { orderId }) => {
        await ctx.step('ask', () => record(ctx.runId, 'ask'));
        const answer = await ctx.waitForEvent<{ by: string }>('approved?', { event: 'order.approved', match: { orderId }, timeoutMs: 3_600_000 });
        return ctx.step('ship', async () => (await record(ctx.runId, 'ship'), { shipped: answer !== null, by: answer?.by ?? null }));
      },
    });

    it('resumes the run whose match the event contains; a rolled-back send resumes nothing; the timeout answers null', async () => {
      const workflows = new Workflows(queue, [approval]);
      const a = await workflows.start('approval', { orderId: 'A' });
      const b = await workflows.start('approval', { orderId: 'B' });
      await tick(workflows, 5_000);
      expect((await workflows.getRun(a.runId))!.currentStep).toBe('approved?');
      expect((await workflows.getRun(b.runId))!.currentStep).toBe('approved?');

      const client = new pg.Client({ connectionString: db.current.url });
      await client.connect();
      await client.query('BEGIN');
      expect(await workflows.sendEvent('order.approved', { orderId: 'B', by: 'nobody' }, { tx: client })).toEqual({ resumed: 1 });
      await client.query('ROLLBACK');
      await client.end();

      expect(await workflows.sendEvent('order.approved', { orderId: 'A', by: 'ops' })).toEqual({ resumed: 1 });
      expect(await workflows.sendEvent('order.shipped', { orderId: 'B' })).toEqual({ resumed: 0 });
      await tick(workflows);
      expect(await workflows.getRun(a.runId)).toMatchObject({ status: 'COMPLETED', output: { shipped: true, by: 'ops' } });
      expect((await workflows.getRun(b.runId))!.status).toBe('RUNNING'); // the rolled-back event never happened
      expect(await workflows.sendEvent('order.approved', { orderId: 'A', by: 'again' })).toEqual({ resumed: 0 }); // resolved once

      clock.advance(3_600_000);
      await tick(workflows);
      expect(await workflows.getRun(b.runId)).toMatchObject({ status: 'COMPLETED', output: { shipped: false, by: null } });
      expect(await ledger(a.runId)).toEqual([
        { step: 'ask', n: 1 },
        { step: 'ship', n: 1 },
      ]);
      const wait = (await workflows.getRun(b.runId))!.steps.find((s) => s.kind === 'wait')!;
      expect(wait).toMatchObject({ event: 'order.approved', output: null });
      expect(wait.resolvedAt).not.toBeNull();
    });

    it('cancelling a waiting run cancels its waiter: the event resumes nothing, and nothing runs after', async () => {
      const workflows = new Workflows(queue, [approval]);
      const { runId } = await workflows.start('approval', { orderId: 'C' });
      await tick(workflows, 5_000);
      expect((await workflows.getRun(runId))!.currentStep).toBe('approved?');
      expect((await workflows.cancelRun(runId))!.status).toBe('CANCELLED');
      expect(await workflows.sendEvent('order.approved', { orderId: 'C', by: 'late' })).toEqual({ resumed: 0 });
      clock.advance(3_600_000); // past the wait's timeout too
      await tick(workflows);
      expect(await ledger(runId)).toEqual([{ step: 'ask', n: 1 }]);
      const jobs = await db.current.pool.query(`SELECT status FROM job_queue WHERE dedupe_key = $1`, [`workflow:${runId}`]);
      expect(jobs.rows.map((r) => r.status)).toContain('CANCELLED');
      expect((await workflows.getRun(runId))!.steps.find((s) => s.kind === 'wait')!.resolvedAt).toBeNull();
    });

    it('a worker waiting on LISTEN resumes a run within moments of the event, not at its next poll', async () => {
      const workflows = new Workflows(queue, [approval]);
      const worker = new Worker({ queue, connectionString: db.current.url, pollIntervalMs: 60_000, logger: false, handlers: workflows.handlers() });
      await worker.start();
      try {
        const { runId } = await workflows.start('approval', { orderId: 'C' });
        await until(async () => (await workflows.getRun(runId))!.currentStep === 'approved?');
        await until(async () => (await db.current.pool.query(`SELECT count(*)::int AS n FROM job_queue WHERE status = 'PROCESSING'`)).rows[0].n === 0);
        const sent = Date.now();
        await workflows.sendEvent('order.approved', { orderId: 'C', by: 'fast' });
        await until(async () => (await workflows.getRun(runId))!.status === 'COMPLETED', 5_000);
        expect(Date.now() - sent).toBeLessThan(5_000);
        expect((await workflows.getRun(runId))!.output).toEqual({ shipped: true, by: 'fast' });
      } finally {
        await worker.stop();
      }
    });
  });
});

describe('fan-out and fan-in (ctx.map)', () => {
  const fanOut = defineWorkflow({
    name: 'fan-out',
    input: z.object({ n: z.number().int().min(0), failAt: z.number().optional(), settle: z.boolean().optional() }),
    run: async (ctx, { n, failAt, settle }) => {
      const items = await ctx.step('list', () => Array.from({ length: n }, (_, i) => i));
      const work = async (item: number) => {
        await record(ctx.runId, `item ${item}`);
        if (item === failAt) throw new NonRetryableError(`item ${item} is bad`);
        return item * item;
      };
      const squares = settle ? await ctx.map('square', items, work, { settle: true }) : await ctx.map('square', items, work);
      return ctx.step('sum', () => (settle ? squares : (squares as number[]).reduce((a, b) => a + b, 0)));
    },
  });

  it('runs each item as a job of its own across workers, and answers the results in order once all are done', async () => {
    const workflows = new Workflows(queue, [fanOut]);
    const runs = await Promise.all([10, 0, 3].map((n) => workflows.start('fan-out', { n })));
    const workers = [0, 1].map(
      () =>
        new Worker({
          queue,
          connectionString: db.current.url,
          pollIntervalMs: 50,
          logger: false,
          handlers: Object.fromEntries(Object.entries(workflows.handlers()).map(([type, handler]) => [type, { handler, concurrency: 3 }])),
        }),
    );
    await Promise.all(workers.map((w) => w.start()));
    try {
      await until(async () => (await db.current.pool.query(`SELECT count(*)::int AS n FROM workflow_runs WHERE status <> 'RUNNING'`)).rows[0].n === 3, 20_000);
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }
    const outputs = await Promise.all(runs.map(async ({ runId }) => (await workflows.getRun(runId))!));
    expect(outputs.map((r) => [r.status, r.output])).toEqual([
      ['COMPLETED', 285],
      ['COMPLETED', 0],
      ['COMPLETED', 5],
    ]);
    // Each item ran once.
    expect((await ledger(runs[0]!.runId)).every((r) => r.n === 1)).toBe(true);
    expect(await ledger(runs[0]!.runId)).toHaveLength(10);
    const items = await db.current.pool.query(
      `SELECT count(*)::int AS n, max(attempts)::int AS attempts FROM job_queue WHERE dedupe_key ~ '^workflow:[^:]+:[0-9]+:[0-9]+$'`,
    );
    expect(items.rows[0]).toEqual({ n: 13, attempts: 1 }); // items finishing together took turns: no deadlock, no retry
  });

  it('an item that fails for good fails the run, or comes back as an error value with settle', async () => {
    const workflows = new Workflows(queue, [fanOut]);
    const failing = await workflows.start('fan-out', { n: 4, failAt: 2 });
    const settled = await workflows.start('fan-out', { n: 3, failAt: 1, settle: true });
    for (let i = 0; i < 20 && (await db.current.pool.query(`SELECT count(*)::int AS n FROM workflow_runs WHERE status = 'RUNNING'`)).rows[0].n > 0; i++) {
      await tick(workflows, 5_000);
    }
    expect(await workflows.getRun(failing.runId)).toMatchObject({
      status: 'FAILED',
      error: expect.stringMatching(/MapItemError: map "square": item 2 failed: item 2 is bad/),
    });
    const settledRun = (await workflows.getRun(settled.runId))!;
    expect(settledRun.output).toEqual([
      { ok: true, value: 0 },
      { ok: false, error: 'item 1 is bad' },
      { ok: true, value: 4 },
    ]);
    expect(settledRun.steps.find((s) => s.kind === 'map')!.items).toEqual({ total: 3, done: 3, failed: 1, errors: [{ index: 1, error: 'item 1 is bad' }] });
  });

  it('cancelling a run stops its pending items', async () => {
    const workflows = new Workflows(queue, [fanOut]);
    const { runId } = await workflows.start('fan-out', { n: 5 });
    await tick(workflows, 1_000, 1); // one advance: 'list', then the fan-out; five item jobs wait
    expect((await workflows.getRun(runId))!.currentStep).toBe('square');
    await workflows.cancelRun(runId);
    await tick(workflows, 5_000);
    expect((await ledger(runId)).filter((r) => r.step.startsWith('item'))).toEqual([]);
    expect((await workflows.getRun(runId))!.status).toBe('CANCELLED');
  });
  it('cancelling a run reaches its running items (ctx.signal aborts) and cancels its pending ones', async () => {
    const started: number[] = [];
    const aborted: number[] = [];
    const slow = defineWorkflow({
      name: 'slow-fan-out',
      input: z.object({ n: z.number() }),
      run: async (ctx, { n }) => {
        const items = await ctx.step('list', () => Array.from({ length: n }, (_, i) => i));
        return ctx.map('wait', items, async (item) => {
          started.push(item);
          await new Promise<void>((resolve) => {
            if (ctx.signal.aborted) return resolve();
            ctx.signal.addEventListener('abort', () => resolve(), { once: true });
          });
          aborted.push(item);
          throw new Error('stopped');
        });
      },
    });
    const workflows = new Workflows(queue, [slow]);
    const { runId } = await workflows.start('slow-fan-out', { n: 6 });
    const worker = new Worker({
      queue,
      connectionString: db.current.url,
      pollIntervalMs: 50,
      logger: false,
      leaseMs: 2_000,
      handlers: Object.fromEntries(Object.entries(workflows.handlers()).map(([type, handler]) => [type, { handler, concurrency: 2 }])),
    });
    await worker.start();
    try {
      await until(async () => started.length === 2); // two items run (concurrency 2), four wait
      const run = await workflows.cancelRun(runId);
      expect(run!.status).toBe('CANCELLED');
      await until(async () => aborted.length === 2, 10_000); // the heartbeat found their jobs cancelled
    } finally {
      await worker.stop();
    }
    expect(started).toHaveLength(2);
    const items = await db.current.pool.query<{ status: string; n: number }>(
      `SELECT status, count(*)::int AS n FROM job_queue WHERE dedupe_key LIKE $1 GROUP BY status`,
      [`workflow:${runId}:%`],
    );
    expect(items.rows).toEqual([{ status: 'CANCELLED', n: 6 }]);
    expect((await workflows.getRun(runId))!.status).toBe('CANCELLED');
  });
});

describe('retention', () => {
  it('cleanup() deletes workflow runs finished before its cutoff, with their steps; running ones stay', async () => {
    const quick = defineWorkflow({
      name: 'kept-or-not',
      input: z.object({ wait: z.boolean() }),
      run: async (ctx, { wait }) => {
        await ctx.step('one', () => 1);
        if (wait) await ctx.sleep('long', 30 * 86_400_000);
        return 'done';
      },
    });
    const workflows = new Workflows(queue, [quick]);
    const finished = await workflows.start('kept-or-not', { wait: false });
    const sleeping = await workflows.start('kept-or-not', { wait: true });
    await tick(workflows, 5_000);
    expect((await workflows.getRun(finished.runId))!.status).toBe('COMPLETED');
    await queue.cleanup(7); // finished just now: kept
    expect(await workflows.getRun(finished.runId)).not.toBeNull();
    clock.advance(8 * 86_400_000);
    const cleaned = new Promise((resolve) => queue.events.once('maintenance:cleanup', resolve));
    await queue.cleanup(7);
    expect(await cleaned).toMatchObject({ workflowRuns: 1, olderThanDays: 7 });
    expect(await workflows.getRun(finished.runId)).toBeNull();
    expect((await db.current.pool.query('SELECT count(*)::int AS n FROM workflow_steps WHERE run_id = $1', [finished.runId])).rows[0].n).toBe(0);
    expect((await workflows.getRun(sleeping.runId))!.status).toBe('RUNNING');
  });
});

describe('retrying a failed run', () => {
  it('runs again from the failed step (earlier steps not re-run), and re-runs map items that failed; anything else is refused', async () => {
    let broken = true;
    const fragile = defineWorkflow({
      name: 'fragile',
      input: z.object({}),
      maxAttempts: 1,
      run: async (ctx) => {
        await ctx.step('first', () => record(ctx.runId, 'first').then(() => 1));
        const squares = await ctx.map('items', [1, 2, 3], async (n) => {
          await record(ctx.runId, `item ${n}`);
          if (broken && n === 2) throw new Error('item 2 broke');
          return n * n;
        });
        return ctx.step('last', async () => (await record(ctx.runId, 'last'), squares));
      },
    });
    const workflows = new Workflows(queue, [fragile]);
    const { runId } = await workflows.start('fragile', {});
    for (let i = 0; i < 6; i++) await tick(workflows, 5_000);
    expect(await workflows.getRun(runId)).toMatchObject({ status: 'FAILED', error: expect.stringMatching(/item 2 broke/) });
    await expect(workflows.retryRun((await workflows.start('fragile', {}, { idempotencyKey: 'other' })).runId)).rejects.toThrow(/only a FAILED run/);

    broken = false;
    expect((await workflows.retryRun(runId))!.status).toBe('RUNNING');
    for (let i = 0; i < 6 && (await workflows.getRun(runId))!.status === 'RUNNING'; i++) await tick(workflows, 5_000);
    expect(await workflows.getRun(runId)).toMatchObject({ status: 'COMPLETED', output: [1, 4, 9], error: null });
    // 'first' and the items that had succeeded ran once; item 2 twice; 'last' once.
    expect(await ledger(runId)).toEqual([
      { step: 'first', n: 1 },
      { step: 'item 1', n: 1 },
      { step: 'item 2', n: 2 },
      { step: 'item 3', n: 1 },
      { step: 'last', n: 1 },
    ]);
    expect(await workflows.retryRun('01a21fd4-8745-7ee7-ae68-43cba0921443')).toBeNull();
  });
});

describe('bad arguments in workflow code', () => {
  it('a sleep or wait Postgres could not store fails the run at once, naming the call', async () => {
    const bad = (name: string, run: WorkflowDefinition['run']) => defineWorkflow({ name, input: z.object({}), run });
    const workflows = new Workflows(queue, [
      bad('bad-sleep', async (ctx) => ctx.sleep('forever', Number.NaN)),
      bad('bad-wait', async (ctx) => ctx.waitForEvent('who knows', { event: '', timeoutMs: 1_000 })),
    ]);
    const sleep = await workflows.start('bad-sleep', {});
    const wait = await workflows.start('bad-wait', {});
    await tick(workflows, 5_000);
    expect(await workflows.getRun(sleep.runId)).toMatchObject({
      status: 'FAILED',
      error: 'NonRetryableError: ctx.sleep("forever") needs a number of milliseconds from 0 to a year, not NaN',
    });
    expect(await workflows.getRun(wait.runId)).toMatchObject({ status: 'FAILED', error: expect.stringContaining('needs an event name of 1-200 characters') });
    expect((await db.current.pool.query(`SELECT max(attempts)::int AS a FROM job_queue`)).rows[0].a).toBe(1); // not retried
  });
});
