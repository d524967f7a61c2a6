/**
 * The PostgreSQL server stopped and started again mid-run, on a
 * cluster of this test's own. Workers reconnect within 5 s, nothing is lost, no unhandled
 * rejection, and a serverless drain tick while the server is down fails within its budget.
 */
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate } from '@/lib/db/migrations';
import { DatabaseQueue } from 'pg-conveyor';
import { drainQueue } from 'pg-conveyor';
import { FULL, createLedger, sleep, startWorker, stopWorker, type WorkerProcess } from './chaos-helpers';
import { startScratchCluster, type ScratchCluster } from '../../scripts/db/scratch-cluster';

const JOBS = FULL ? 4_000 : 1_500;
let cluster: ScratchCluster | undefined;
let workers: WorkerProcess[] = [];
afterAll(async () => {
  await Promise.all(workers.map((w) => stopWorker(w, 'SIGKILL')));
  cluster?.stop();
});

describe('PostgreSQL restarted mid-run', () => {
  it('down 2 s under two worker processes: a drain tick fails within its budget; workers resume within 5 s of the restart; nothing lost', async () => {
    cluster = await startScratchCluster({ durable: false });
    await migrate({ connectionString: cluster.url });
    const pool = new pg.Pool({ connectionString: cluster.url, max: 4 });
    pool.on('error', () => {});
    await createLedger(pool);
    const queue = new DatabaseQueue({ pool, backoff: { baseMs: 100 } });
    await queue.enqueueMany(Array.from({ length: JOBS }, () => ({ jobType: 'CHAOS', maxAttempts: 50 })));
    // The product's 1 s poll: jobs whose lease the outage broke come back after their retry delay, when no NOTIFY announces them.
    const env = { DATABASE_URL: cluster.url, LEASE_MS: '2000', RESCUE_MS: '300', POLL_MS: '1000' };
    workers = await Promise.all([startWorker(env), startWorker(env)]);
    await sleep(1_500);

    // The server goes down under the workers; a cron tick meanwhile fails, but within its budget.
    cluster.down();
    const drainer = new DatabaseQueue({ connectionString: cluster.url, poolMax: 1 });
    const started = Date.now();
    const tick = await drainQueue(drainer, { types: ['OTHER'], maxJobs: 3, budgetMs: 2_000, handler: async () => 'ok' }).then(
      () => 'ok',
      (e: Error) => e.message,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(tick).toMatch(/ECONNREFUSED|connect/);
    await drainer.close();
    await sleep(2_000); // down for a while: workers' claims and heartbeats fail meanwhile
    cluster.start();
    const restartedAt = Date.now();

    // Work resumes within 5 s of the server coming back.
    const countDone = async () => (await pool.query(`SELECT count(*)::int AS n FROM job_queue WHERE status = 'COMPLETED'`)).rows[0].n as number;
    const before = await countDone().catch(() => 0);
    let resumedAfter = -1;
    for (let i = 0; i < 100; i++) {
      await sleep(100);
      if ((await countDone().catch(() => before)) > before) {
        resumedAfter = Date.now() - restartedAt;
        break;
      }
    }
    expect(resumedAfter).toBeGreaterThanOrEqual(0);
    expect(resumedAfter).toBeLessThan(5_000);

    for (let i = 0; i < 900 && (await countDone().catch(() => 0)) < JOBS; i++) await sleep(100);
    expect(await countDone()).toBe(JOBS);
    const codes = await Promise.all(workers.map((w) => stopWorker(w)));
    workers = [];
    expect(codes).toEqual([0, 0]);
    console.log(`postgres restart: work resumed ${resumedAfter} ms after the restart; ${JOBS} jobs completed, none lost`);
    await pool.end();
  }, 300_000);
});
