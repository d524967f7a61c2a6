/**
 * Conveyor's side of each benchmark, through the public API only (DatabaseQueue, Worker,
 * drainQueue), the way an app would call it. Each function has its raw counterpart in raw-loop.ts.
 */
import { DatabaseQueue, drainQueue } from 'pg-conveyor';
import { Worker } from 'pg-conveyor/worker';
import { defineWorkflow, Workflows } from 'pg-conveyor/workflows';
import { z } from 'zod';
import { msSince, sleep } from './bench-db';

/** Bulk enqueue: `count` jobs, `chunk` per enqueueMany call (one statement each). */
export async function enqueueBulk(queue: DatabaseQueue, count: number, chunk: number): Promise<void> {
  for (let i = 0; i < count; i += chunk) {
    await queue.enqueueMany(Array.from({ length: Math.min(chunk, count - i) }, (_, k) => ({ jobType: 'BENCH', payload: { n: i + k } })));
  }
}

/** Single enqueue: one queue (poolMax = callers), `callers` async callers, `total` enqueue() calls in all. */
export async function enqueueSingle(url: string, callers: number, total: number): Promise<void> {
  const queue = new DatabaseQueue({ connectionString: url, poolMax: callers });
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: callers }, async () => {
        for (let n = next++; n < total; n = next++) await queue.enqueue({ jobType: 'BENCH', payload: { n } });
      }),
    );
  } finally {
    await queue.close();
  }
}

/** The library's own loops: claimJobs(batch) then completeJob each, one queue of one connection per loop. */
export async function claimLoops(url: string, loops: number, batch: number): Promise<number> {
  const queues = Array.from({ length: loops }, (_, w) => new DatabaseQueue({ connectionString: url, poolMax: 1, workerId: `bench-${w}` }));
  try {
    const counts = await Promise.all(
      queues.map(async (queue) => {
        let done = 0;
        for (;;) {
          const jobs = await queue.claimJobs(['BENCH'], batch);
          if (jobs.length === 0) return done;
          for (const job of jobs) await queue.completeJob(job, { ok: true });
          done += jobs.length;
        }
      }),
    );
    return counts.reduce((a, b) => a + b, 0);
  } finally {
    await Promise.all(queues.map((q) => q.close()));
  }
}

/**
 * The worker process at `concurrency`: seconds from start() until `jobs` jobs are completed (their
 * completion committed, not just their handler returned). With `batchSize`, each slot takes that
 * many jobs per handler call. It is stopped after the clock stops; the few jobs it holds then
 * finish or are released, so the table is left with nothing PROCESSING.
 */
export async function workerCompletes(
  url: string,
  jobs: number,
  concurrency: number,
  options: { batchSize?: number; prefetch?: number } = {},
): Promise<number> {
  const queue = new DatabaseQueue({ connectionString: url, poolMax: concurrency + 2 });
  const task = options.batchSize
    ? { concurrency, batch: { size: options.batchSize, handler: async (batch: unknown[]) => batch.map(() => ({ ok: true })) } }
    : { concurrency, prefetch: options.prefetch ?? 0, handler: async () => ({ ok: true }) };
  const worker = new Worker({ queue, connectionString: url, handlers: { BENCH: task } });
  let done = 0;
  const allDone = new Promise<void>((resolve) => {
    const count = (completed: number) => {
      done += completed;
      if (done >= jobs) resolve();
    };
    worker.on('job:end', (_job, outcome) => count(outcome === 'completed' ? 1 : 0));
    worker.on('batch:end', (_jobs, outcome) => count(outcome.completed));
  });
  worker.on('error', (error) => console.error(`bench: worker error: ${error.message}`));
  const start = process.hrtime.bigint();
  await worker.start();
  await allDone;
  const seconds = msSince(start) / 1000;
  await worker.stop();
  await queue.close();
  return seconds;
}

/**
 * Serverless drains: `invocations` cron invocations at once, each with a queue of its own
 * (poolMax 1, as one function instance has) calling drainQueue once for up to `perInvocation`
 * jobs, with a budget that never ends it first. Returns the jobs completed.
 */
export async function drainInvocations(url: string, invocations: number, perInvocation: number): Promise<number> {
  const results = await Promise.all(
    Array.from({ length: invocations }, async () => {
      const queue = new DatabaseQueue({ connectionString: url, poolMax: 1 });
      try {
        return await drainQueue(queue, {
          types: ['BENCH'],
          handler: async () => ({ ok: true }),
          maxJobs: perInvocation,
          budgetMs: 3_600_000,
        });
      } finally {
        await queue.close();
      }
    }),
  );
  return results.reduce((sum, r) => sum + r.completed, 0);
}

/**
 * Enqueue-to-start latency of an idle worker woken by LISTEN/NOTIFY (its poll is set to a minute,
 * so only NOTIFY can wake it in time): from the enqueue call to the handler's start. Milliseconds.
 */
export async function workerLatency(url: string, jobs: number, gapMs: number): Promise<number[]> {
  const queue = new DatabaseQueue({ connectionString: url, poolMax: 3 });
  let started: (() => void) | null = null;
  const worker = new Worker({ queue, connectionString: url, pollIntervalMs: 60_000, handlers: { LATENCY: async () => started?.() } });
  await worker.start();
  const enqueuer = new DatabaseQueue({ connectionString: url, poolMax: 1 });
  const latency: number[] = [];
  try {
    for (let i = 0; i < jobs; i++) {
      await sleep(gapMs);
      const begin = process.hrtime.bigint();
      const running = new Promise<void>((resolve) => (started = resolve));
      await enqueuer.enqueue({ jobType: 'LATENCY' });
      await running;
      latency.push(msSince(begin));
    }
  } finally {
    await worker.stop();
    await Promise.all([enqueuer.close(), queue.close()]);
  }
  return latency;
}

/**
 * Workflow steps: `runs` runs of `steps` no-op steps each, started before the clock runs, then
 * advanced by the worker process at `concurrency` until every run is COMPLETED. Returns seconds.
 */
export async function workflowSteps(url: string, runs: number, steps: number, concurrency: number): Promise<number> {
  const queue = new DatabaseQueue({ connectionString: url, poolMax: concurrency + 2 });
  const flow = defineWorkflow({
    name: 'bench',
    input: z.object({}),
    run: async (ctx) => {
      for (let i = 0; i < steps; i++) await ctx.step(`step ${i}`, () => i);
      return steps;
    },
  });
  const workflows = new Workflows(queue, [flow]);
  for (let i = 0; i < runs; i += 100) await Promise.all(Array.from({ length: Math.min(100, runs - i) }, () => workflows.start('bench', {})));
  let completed = 0;
  let allDone: () => void = () => {};
  const done = new Promise<void>((resolve) => (allDone = resolve));
  const handlers = Object.fromEntries(
    Object.entries(workflows.handlers()).map(([type, handler]) => [
      type,
      {
        concurrency,
        handler: async (job: Parameters<typeof handler>[0], ctx: Parameters<typeof handler>[1]) => {
          const result = (await handler(job, ctx)) as { status?: string };
          if (result?.status === 'COMPLETED' && ++completed === runs) allDone();
          return result;
        },
      },
    ]),
  );
  const worker = new Worker({ queue, connectionString: url, handlers });
  const start = process.hrtime.bigint();
  await worker.start();
  await done;
  const seconds = msSince(start) / 1000;
  await worker.stop();
  await queue.close();
  return seconds;
}
