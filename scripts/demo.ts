/**
 * `npm run dev`: the product on the embedded database. Migrates, enqueues sample jobs, drains them
 * with four concurrent workers (some jobs fail once and are retried after the backoff), and prints
 * the queue's stats as it goes.
 */
import { resolveDatabaseUrl } from './db/local-postgres.mjs';
import { migrate } from '../src/lib/db/migrations';
import { DatabaseQueue, type Job } from 'pg-conveyor';

const connectionString = await resolveDatabaseUrl();
console.log(`database: ${connectionString.replace(/\/\/[^@]*@/, '//***@')}`);
await migrate({ connectionString, log: (line) => console.log(`migrate: ${line}`) });

// A short backoff so the demo's retries happen while you watch (the default is 10 s, 20 s, …).
const queue = new DatabaseQueue({ connectionString, poolMax: 5, backoff: { baseMs: 500 } });
const flaky = new Set<number>();
const samples = Array.from({ length: 200 }, (_, i) => {
  if (i % 25 === 0) flaky.add(i);
  return { jobType: i % 2 ? 'RESIZE_IMAGE' : 'SEND_EMAIL', payload: { n: i }, priority: i % 10 === 0 ? 5 : 0 };
});
const created = await queue.enqueueMany(samples);
console.log(`enqueued ${created.length} jobs (${flaky.size} will fail once and be retried)`);

async function handle(job: Job): Promise<unknown> {
  const { n } = job.payload as { n: number };
  await new Promise((resolve) => setTimeout(resolve, 5 + (n % 7)));
  if (flaky.has(n) && job.attempts === 1) throw new Error(`sample failure for job #${n}`);
  return { handledBy: queue.workerId, n };
}

async function worker(): Promise<number> {
  let done = 0;
  for (let idle = 0; idle < 40;) {
    const job = await queue.claimJob(['SEND_EMAIL', 'RESIZE_IMAGE']);
    if (!job) {
      idle++;
      await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    idle = 0;
    try {
      await queue.completeJob(job, await handle(job));
      done++;
    } catch (error) {
      await queue.failJob(job, error);
    }
  }
  return done;
}

const started = Date.now();
const progress = setInterval(async () => console.log('stats:', await queue.getQueueStats()), 500);
const perWorker = await Promise.all([worker(), worker(), worker(), worker()]);
clearInterval(progress);
console.log(`drained in ${((Date.now() - started) / 1000).toFixed(1)} s by 4 workers: ${perWorker.join(' + ')} jobs`);
console.log('final stats:', await queue.getQueueStats());
const retried = (await queue.listJobs({ status: 'COMPLETED', limit: 100 })).filter((j) => j.attempts > 1);
console.log(`${retried.length} of the recent completed jobs needed a retry, e.g.`, retried[0]?.errors);
await queue.close();
