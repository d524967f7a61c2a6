/**
 * A job's outcome sent while the database is out of reach (a crash, a failover, a restart)
 * is sent again once it is back, fenced by the attempt: the handler's work is kept and the job
 * does not run again after its lease. Through a TCP proxy that refuses connections for a second,
 * or lets the completion commit and drops its answer.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { DatabaseQueue, drainQueue } from 'pg-conveyor';
import { Worker } from 'pg-conveyor/worker';
import { useTestDatabase } from '../../packages/pg-conveyor/test/helpers/db';
import { freePort } from '../helpers/ports';
import { sleep } from './chaos-helpers';
import { startTcpProxy, type TcpProxy } from './tcp-proxy';

const db = useTestDatabase();
let proxy: TcpProxy | undefined;
const queues: DatabaseQueue[] = [];
afterAll(async () => {
  await Promise.all(queues.map((q) => q.close()));
  await proxy?.close();
});

async function throughProxy(): Promise<{ queue: DatabaseQueue; url: string; serverPort: number }> {
  const url = new URL(db.current.url);
  const serverPort = Number(url.port);
  proxy ??= await startTcpProxy(serverPort);
  url.port = String(proxy.port);
  const queue = new DatabaseQueue({ connectionString: url.toString(), poolMax: 2 });
  queue.events.on('pool:error', () => {});
  queues.push(queue);
  return { queue, url: url.toString(), serverPort };
}

/** Cuts every connection and refuses new ones for `ms`. */
async function outage(serverPort: number, ms: number): Promise<void> {
  proxy!.repoint(await freePort());
  setTimeout(() => proxy!.repoint(serverPort), ms);
}

const row = async (id: string) => (await db.current.pool.query('SELECT status, attempts, result FROM job_queue WHERE id = $1', [id])).rows[0];

describe('an outcome sent while the database is out of reach', () => {
  it('a drain completes the job once the database is back: kept, not run again', async () => {
    const { queue, serverPort } = await throughProxy();
    const job = await queue.enqueue({ jobType: 'BLIP' });
    let runs = 0;
    const result = await drainQueue(queue, {
      types: ['BLIP'],
      maxJobs: 1,
      budgetMs: 15_000,
      handler: async () => {
        runs++;
        await outage(serverPort, 1_000);
        return { done: true };
      },
    });
    expect(result).toMatchObject({ completed: 1, lost: 0 });
    expect(runs).toBe(1);
    expect(await row(job.id)).toEqual({ status: 'COMPLETED', attempts: 1, result: { done: true } });
  });

  it('a completion that committed but whose answer was lost is recognised when sent again', async () => {
    const { queue, serverPort } = await throughProxy();
    const job = await queue.enqueue({ jobType: 'ANSWER_LOST' });
    const result = await drainQueue(queue, {
      types: ['ANSWER_LOST'],
      maxJobs: 1,
      budgetMs: 15_000,
      handler: async () => {
        proxy!.swallowReplies();
        setTimeout(() => proxy!.repoint(serverPort), 500);
        return { done: 'once' };
      },
    });
    expect(result).toMatchObject({ completed: 1, lost: 0 });
    expect(await row(job.id)).toEqual({ status: 'COMPLETED', attempts: 1, result: { done: 'once' } });
  });

  it("a worker's completion and a batch's are sent again too", async () => {
    const { queue, url, serverPort } = await throughProxy();
    const outcomes: string[] = [];
    const worker = new Worker({
      queue,
      connectionString: url,
      leaseMs: 10_000,
      pollIntervalMs: 200,
      handlers: {
        W_SINGLE: async () => {
          await outage(serverPort, 1_000);
          return 'single';
        },
        W_BATCH: {
          batch: {
            size: 3,
            handler: async (jobs) => {
              await outage(serverPort, 1_000);
              return jobs.map((j) => (j.payload as { n: number }).n);
            },
          },
        },
      },
    });
    worker.on('error', () => {});
    worker.on('job:end', (_job, outcome) => outcomes.push(`job ${outcome}`));
    worker.on('batch:end', (_jobs, outcome) => outcomes.push(`batch ${outcome.completed} completed, ${outcome.lost} lost`));
    await worker.start();
    const until = async (count: number) => {
      for (let i = 0; i < 200 && outcomes.length < count; i++) await sleep(100);
    };
    // One after the other: an outage that cut a claim in flight would leave its jobs to the
    // lease, which is not what this test is about.
    const single = await queue.enqueue({ jobType: 'W_SINGLE' });
    await until(1);
    const batch = await queue.enqueueMany([1, 2, 3].map((n) => ({ jobType: 'W_BATCH', payload: { n } })));
    await until(2);
    await worker.stop();
    expect(outcomes).toEqual(['job completed', 'batch 3 completed, 0 lost']);
    expect(await row(single.id)).toEqual({ status: 'COMPLETED', attempts: 1, result: 'single' });
    for (const [i, job] of batch.entries()) expect(await row(job.id)).toEqual({ status: 'COMPLETED', attempts: 1, result: i + 1 });
  }, 60_000);
});
