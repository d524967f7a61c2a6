/** cronRoute's fanOut: a route that starts more invocations of itself, served over real HTTP. */
import { spawn } from 'node:child_process';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { ValidationError, type Job } from 'pg-conveyor';
import { cronRoute } from 'pg-conveyor/next';
import { defineWorkflow, Workflows } from 'pg-conveyor/workflows';
import { z } from 'zod';
import { useQueue } from './helpers/queue';
import { countJobs } from './helpers/jobs';
import { serveRoute, type ServedRoute } from './helpers/http-route';
import { until } from './helpers/wait';

const t = useQueue({ reset: true });
const db = t.db;
const env = process.env as Record<string, string | undefined>;
const SECRET = 'a-cron-secret-of-at-least-32-characters';
const served: ServedRoute[] = [];

beforeEach(() => void (env.CRON_SECRET = SECRET));
afterAll(async () => {
  delete env.CRON_SECRET;
  await Promise.all(served.map((s) => s.close()));
});

const tick = (url: string, headers: Record<string, string> = { authorization: `Bearer ${SECRET}` }) => fetch(url, { headers }).then((r) => r.json());
const heldSlots = async () =>
  Number((await db.current.pool.query(`SELECT count(*) FROM drain_slots WHERE holder IS NOT NULL AND held_until >= now()`)).rows[0].count);

async function fannedRoute(options: { cap: number; budgetMs: number; jobMs: number; types?: string[] }) {
  const self = { url: '' }; // the route's own URL, known once it is served
  const GET = cronRoute({
    queue: t.queue,
    budgetMs: options.budgetMs,
    concurrency: 2,
    fanOut: { maxConcurrentInvocations: options.cap, url: () => self.url },
    handlers: Object.fromEntries(
      (options.types ?? ['WORK']).map((type) => [type, async (job: Job) => new Promise((r) => setTimeout(() => r(job.id), options.jobMs))]),
    ),
  });
  const route = await serveRoute(GET);
  self.url = route.url;
  served.push(route);
  return route;
}

describe('cronRoute fanOut', () => {
  it('20 ticks at once over a backlog: never more invocations than the cap, every job done, nothing left PROCESSING or held', async () => {
    await t.queue.enqueueMany(Array.from({ length: 120 }, () => ({ jobType: 'WORK' })));
    const route = await fannedRoute({ cap: 4, budgetMs: 2_500, jobMs: 60 });
    let maxHeld = 0;
    const sampling = setInterval(() => void heldSlots().then((n) => (maxHeld = Math.max(maxHeld, n))), 20);
    const answers = await Promise.all(Array.from({ length: 20 }, () => tick(route.url)));
    await route.idle();
    await until(async () => (await countJobs(db.current.pool, "status = 'COMPLETED'")) === 120, 30_000);
    await route.idle();
    clearInterval(sampling);
    // Slots are the count of drains running (a drain runs only while it holds one).
    expect(maxHeld).toBeLessThanOrEqual(4);
    expect(maxHeld).toBeGreaterThan(1);
    expect(answers.filter((a) => a.skipped).length).toBeGreaterThanOrEqual(16); // at most 4 of the 20 got a slot
    expect(answers.every((a) => a.success === true)).toBe(true);
    expect(await countJobs(db.current.pool, "status = 'PROCESSING'")).toBe(0);
    await until(async () => (await heldSlots()) === 0, 5_000);
  });

  it('one tick over a backlog larger than it can do in its budget starts more, which carry on after it ends', async () => {
    await t.queue.enqueueMany(Array.from({ length: 80 }, () => ({ jobType: 'WORK' })));
    const route = await fannedRoute({ cap: 3, budgetMs: 1_500, jobMs: 100 });
    let maxHeld = 0;
    const sampling = setInterval(() => void heldSlots().then((n) => (maxHeld = Math.max(maxHeld, n))), 20);
    const first = await tick(route.url);
    expect(first.invocationsStarted).toBeGreaterThanOrEqual(1);
    expect(first.completed).toBeLessThan(80);
    // With no further cron tick, the invocations it started (and theirs) drain the rest.
    await until(async () => (await countJobs(db.current.pool, "status = 'COMPLETED'")) === 80, 30_000);
    await route.idle();
    clearInterval(sampling);
    expect(route.calls).toBeGreaterThan(2);
    expect(maxHeld).toBeLessThanOrEqual(3);
    expect(maxHeld).toBeGreaterThan(1);
    await until(async () => (await heldSlots()) === 0, 5_000);
  });

  it('an empty queue starts no invocation', async () => {
    const route = await fannedRoute({ cap: 5, budgetMs: 2_000, jobMs: 10 });
    const answer = await tick(route.url);
    expect(answer).toMatchObject({ success: true, processed: 0, stoppedBy: 'empty', invocationsStarted: 0 });
    await new Promise((r) => setTimeout(r, 300));
    expect(route.calls).toBe(1);
    expect(await heldSlots()).toBe(0);
  });

  it('a call with no secret, or a wrong one, is refused before it takes a slot or starts anything', async () => {
    await t.queue.enqueueMany(Array.from({ length: 30 }, () => ({ jobType: 'WORK' })));
    const route = await fannedRoute({ cap: 5, budgetMs: 2_000, jobMs: 10 });
    const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer wrong' }, { 'x-conveyor-invocation': '00000000-0000-4000-8000-000000000000' }];
    for (const headers of attempts) {
      const response = await fetch(route.url, { headers });
      expect(response.status).toBe(401);
    }
    expect(route.calls).toBe(3);
    expect(await heldSlots()).toBe(0);
    expect(await countJobs(db.current.pool, "status = 'PENDING'")).toBe(30);
  });

  it('a 5 s sleep (a delayed job) on a 60 s cadence is done in about 5 s by the same invocation', async () => {
    const route = await fannedRoute({ cap: 2, budgetMs: 50_000, jobMs: 10 });
    const { id } = await t.queue.enqueue({ jobType: 'WORK', delayMs: 5_000 });
    const started = Date.now();
    const answer = await tick(route.url);
    expect(answer).toMatchObject({ completed: 1, stoppedBy: 'empty' });
    expect(Date.now() - started).toBeLessThan(6_500);
    expect((await t.queue.getJob(id))!.status).toBe('COMPLETED');
  });

  it("a workflow's 5 s sleep on a 60 s cadence: one tick runs it to the end in about 5 s", async () => {
    const nap = defineWorkflow({
      name: 'nap',
      input: z.object({}),
      run: async (ctx) => {
        await ctx.step('before', () => 'awake');
        await ctx.sleep('five seconds', 5_000);
        return ctx.step('after', () => 'rested');
      },
    });
    const workflows = new Workflows(t.queue, [nap]);
    const GET = cronRoute({ queue: t.queue, budgetMs: 50_000, concurrency: 2, handlers: workflows.handlers() });
    const { runId } = await workflows.start(nap, {});
    const started = Date.now();
    const answer = await (await GET(new Request('http://localhost/api/cron', { headers: { authorization: `Bearer ${SECRET}` } }))).json();
    const elapsed = Date.now() - started;
    expect(answer).toMatchObject({ success: true, failed: 0, stoppedBy: 'empty' });
    expect((await workflows.getRun(runId))!).toMatchObject({ status: 'COMPLETED', output: 'rested' });
    expect(elapsed).toBeGreaterThanOrEqual(4_900);
    expect(elapsed).toBeLessThan(6_500);
  });

  it('an event sent while a tick waits (for a timeout inside its budget) is taken within about a second', async () => {
    const approval = defineWorkflow({
      name: 'approval',
      input: z.object({ orderId: z.string() }),
      run: async (ctx, input) => {
        const approved = await ctx.waitForEvent<{ by: string }>('approved', { event: 'order.approved', match: { orderId: input.orderId }, timeoutMs: 20_000 });
        return ctx.step('record', () => approved?.by ?? 'nobody');
      },
    });
    const workflows = new Workflows(t.queue, [approval]);
    const GET = cronRoute({ queue: t.queue, budgetMs: 50_000, handlers: workflows.handlers() });
    const { runId } = await workflows.start(approval, { orderId: 'o-1' });
    const started = Date.now();
    const tick = GET(new Request('http://localhost/api/cron', { headers: { authorization: `Bearer ${SECRET}` } }));
    await until(async () => (await workflows.getRun(runId))!.currentStep === 'approved', 5_000);
    await new Promise((r) => setTimeout(r, 1_500));
    await workflows.sendEvent('order.approved', { orderId: 'o-1', by: 'ada' });
    const sentAt = Date.now();
    await until(async () => (await workflows.getRun(runId))!.status === 'COMPLETED', 5_000);
    expect(Date.now() - sentAt).toBeLessThan(2_000); // not the 20 s timeout, not the next cron tick
    expect((await workflows.getRun(runId))!.output).toBe('ada');
    const answer = await (await tick).json();
    expect(answer).toMatchObject({ success: true, stoppedBy: 'empty' });
    expect(Date.now() - started).toBeLessThan(8_000);
  });

  it("a killed invocation's jobs come back by lease, and its slot frees itself", async () => {
    await t.queue.enqueueMany([{ jobType: 'HANG' }, { jobType: 'HANG' }]);
    expect(await t.queue.rescueExpired()).toBe(0);
    const child = spawn(process.execPath, ['--import', 'tsx', 'packages/pg-conveyor/test/fixtures/cron-tick-process.ts'], {
      env: { ...process.env, DATABASE_URL: db.current.url, CRON_SECRET: SECRET },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await until(async () => (await countJobs(db.current.pool, "status = 'PROCESSING'")) === 2, 15_000);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.on('exit', resolve));
    expect(await heldSlots()).toBe(1);
    // The lease is the budget + grace + 10 s: 14 s after the claim a rescue (what claims run at
    // most once per rescueIntervalMs) takes both back.
    await until(async () => {
      await t.queue.rescueExpired();
      return (await countJobs(db.current.pool, 'status = \'PENDING\' AND errors @> \'[{"kind": "lease_expired"}]\'')) === 2;
    }, 20_000);
    expect(await heldSlots()).toBe(0);
  }, 40_000);

  it('bad fanOut options fail at import with a ValidationError', () => {
    for (const fanOut of [{ maxConcurrentInvocations: 0 }, { maxConcurrentInvocations: 1.5 }, { maxConcurrentInvocations: 2, url: 'not a url' }]) {
      expect(() => cronRoute({ queue: t.queue, handlers: { WORK: async () => 1 }, fanOut }), JSON.stringify(fanOut)).toThrow(ValidationError);
    }
  });
});
