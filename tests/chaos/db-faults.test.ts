/**
 * Database faults: connections of workers and of the cron route are terminated at random
 * (pg_terminate_backend) while they work. Workers must reconnect (LISTEN included) within 5 s,
 * lose nothing, have no unhandled rejection; the cron route must answer within its budget.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { GET as ingestionRoute } from '../../app/api/workers/ingestion/route';
import { POST as ingest } from '../../app/api/ingest/route';
import { connections } from '@/lib/db/client';
import { cronRequest, projectKey, records, useAppDatabase } from '../helpers/app-env';
import { countJobs } from '../../packages/pg-conveyor/test/helpers/jobs';
import { FULL, createLedger, sleep, startWorker, stopWorker, type WorkerProcess } from './chaos-helpers';

const db = useAppDatabase({ NODE_ENV: 'test', CRON_SECRET: 'c', WORKER_BUDGET_MS: '3000' });
let workers: WorkerProcess[] = [];
afterAll(async () => {
  await Promise.all(workers.map((w) => stopWorker(w, 'SIGKILL')));
});

const withApp = (url: string, name: string) => {
  const u = new URL(url);
  u.searchParams.set('application_name', name);
  return u.toString();
};

async function terminate(applicationName: string): Promise<number> {
  const { rows } = await db.current.pool.query<{ n: number }>(
    `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n
       FROM (SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database() ORDER BY random() LIMIT 2) victims`,
    [applicationName],
  );
  return rows[0]!.n;
}

describe('database faults', () => {
  it(
    'terminated backends: workers reconnect, nothing is lost, the cron route keeps its budget',
    async () => {
      await createLedger(db.current.pool);
      const JOBS = FULL ? 5_000 : 800;
      const { queue } = connections();
      await queue.enqueueMany(Array.from({ length: JOBS }, () => ({ jobType: 'CHAOS', maxAttempts: 50 })));
      // A long poll interval: after the faults, only a re-opened LISTEN can wake the workers fast.
      const env = { DATABASE_URL: withApp(db.current.url, 'chaos-worker'), LEASE_MS: '1500', RESCUE_MS: '300', POLL_MS: '60000' };
      workers = await Promise.all([startWorker(env), startWorker(env)]);

      // The app (cron route) on its own, also terminated, connections.
      process.env.DATABASE_URL = withApp(db.current.url, 'chaos-route');
      for (let i = 0; i < 3; i++) {
        const { headers } = await projectKey(db.current.pool, `p${i}`);
        await ingest(
          new Request('http://localhost/api/ingest', {
            method: 'POST',
            headers: { ...headers, 'content-type': 'application/json' },
            body: JSON.stringify({ records: records(300), generateEmbeddings: false }),
          }),
        );
      }

      let killed = 0;
      const routeTimes: number[] = [];
      const faultsUntil = Date.now() + (FULL ? 30_000 : 6_000);
      while (Date.now() < faultsUntil) {
        killed += await terminate('chaos-worker');
        killed += await terminate('chaos-route');
        const started = Date.now();
        const response = await ingestionRoute(cronRequest('/api/workers/ingestion', 'c'));
        routeTimes.push(Date.now() - started);
        expect([200, 500]).toContain(response.status);
        await sleep(150);
      }
      expect(killed).toBeGreaterThan(5);
      expect(Math.max(...routeTimes)).toBeLessThan(3_000 + 2_000 + 1_000); // budget + grace + margin

      // Faults over: everything finishes (rescues bring back what the faults cut off). A job the
      // faults failed several times waits out a backoff of 40 s and more, and with LISTEN quiet the
      // workers see it only at their 60 s poll: skip the backoffs, and allow one poll's time.
      const unfinished = "job_type = 'CHAOS' AND status <> 'COMPLETED'";
      for (let i = 0; i < 900 && (await countJobs(db.current.pool, unfinished)) > 0; i++) {
        await db.current.pool.query(`UPDATE job_queue SET run_at = now() WHERE job_type = 'CHAOS' AND status = 'PENDING' AND run_at > now()`);
        await sleep(100);
      }
      const left = await db.current.pool.query(`SELECT status, attempts, run_at > now() AS later, locked_until FROM job_queue WHERE ${unfinished}`);
      expect(left.rows, 'jobs left unfinished').toEqual([]);
      const runsCompleted = async () => (await db.current.pool.query(`SELECT count(*)::int AS n FROM workflow_runs WHERE status = 'COMPLETED'`)).rows[0].n;
      for (let i = 0; i < 30 && (await runsCompleted()) < 3; i++) {
        await ingestionRoute(cronRequest('/api/workers/ingestion', 'c'));
        await db.current.pool.query(`UPDATE job_queue SET run_at = now() WHERE status = 'PENDING'`); // skip backoffs
      }
      expect(await runsCompleted()).toBe(3);
      expect((await db.current.pool.query('SELECT count(*)::int AS n FROM records')).rows[0].n).toBe(900);

      // LISTEN is back: a new job starts well before the 60 s poll.
      const before = Date.now();
      const probe = await queue.enqueue({ jobType: 'CHAOS', payload: { ms: 1 } });
      for (let i = 0; i < 100 && (await queue.getJob(probe.id))!.status !== 'COMPLETED'; i++) await sleep(50);
      expect((await queue.getJob(probe.id))!.status).toBe('COMPLETED');
      expect(Date.now() - before).toBeLessThan(5_000);

      const codes = await Promise.all(workers.map((w) => stopWorker(w)));
      workers = [];
      expect(codes).toEqual([0, 0]); // exit 3 would mean an unhandled rejection
      console.log(`db faults: ${killed} backends terminated, ${JOBS} jobs all completed, slowest cron response ${Math.max(...routeTimes)} ms`);
    },
    FULL ? 600_000 : 120_000,
  );
});
