/**
 * Crash test: worker processes SIGKILLed at random while they work through jobs of 5-50 ms, and
 * restarted. Nothing may be lost or left PROCESSING, and every job that ran twice must have been
 * running in a killed worker the first time.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { DatabaseQueue } from 'pg-conveyor';
import { useTestDatabase } from '../../packages/pg-conveyor/test/helpers/db';
import { countJobs } from '../../packages/pg-conveyor/test/helpers/jobs';
import { FULL, createLedger, sleep, startWorker, stopWorker, type WorkerProcess } from './chaos-helpers';

const db = useTestDatabase();
const JOBS = FULL ? 20_000 : 2_000;
const WORKERS = 4;
const KILL_EVERY_MS: [number, number] = FULL ? [2_000, 5_000] : [700, 1_500];
let workers: WorkerProcess[] = [];

afterAll(async () => {
  await Promise.all(workers.map((w) => stopWorker(w, 'SIGKILL')));
});

describe(`crash test (${FULL ? 'full' : 'fast'} tier)`, () => {
  it(
    `${JOBS} jobs, ${WORKERS} worker processes, one SIGKILLed every ${KILL_EVERY_MS.join('-')} ms: zero lost, duplicates only from killed workers`,
    async () => {
      await createLedger(db.current.pool);
      const queue = new DatabaseQueue({ pool: db.current.pool });
      for (let i = 0; i < JOBS; i += 5_000) {
        await queue.enqueueMany(Array.from({ length: Math.min(5_000, JOBS - i) }, () => ({ jobType: 'CHAOS', maxAttempts: 25 })));
      }
      const env = { DATABASE_URL: db.current.url, LEASE_MS: '1500', RESCUE_MS: '300' };
      workers = await Promise.all(Array.from({ length: WORKERS }, () => startWorker(env)));
      const killed = new Set<number>();
      const started = Date.now();
      const deadline = started + (FULL ? 600_000 : 120_000);
      let nextKill = Date.now() + KILL_EVERY_MS[0];
      while ((await countJobs(db.current.pool, "status = 'COMPLETED'")) < JOBS && Date.now() < deadline) {
        if (Date.now() >= nextKill) {
          const victim = Math.floor(Math.random() * workers.length);
          killed.add(workers[victim]!.pid);
          await stopWorker(workers[victim]!, 'SIGKILL');
          workers[victim] = await startWorker(env);
          nextKill = Date.now() + KILL_EVERY_MS[0] + Math.random() * (KILL_EVERY_MS[1] - KILL_EVERY_MS[0]);
        }
        await sleep(100);
      }
      const codes = await Promise.all(workers.map((w) => stopWorker(w)));
      workers = [];

      const lost = await countJobs(db.current.pool, "status <> 'COMPLETED'");
      const processing = await countJobs(db.current.pool, "status = 'PROCESSING'");
      const { rows: dupes } = await db.current.pool.query<{ job_id: string; pids: number[] }>(
        `SELECT job_id, array_agg(pid ORDER BY at) AS pids FROM chaos_ledger GROUP BY job_id HAVING count(*) > 1`,
      );
      // A job runs again only after the run before it was cut short by a kill.
      const unexplained = dupes.filter((d) => d.pids.slice(0, -1).some((pid) => !killed.has(pid)));
      const { rows: ran } = await db.current.pool.query('SELECT count(DISTINCT job_id)::int AS n FROM chaos_ledger');
      console.log(
        `crash test: ${JOBS} jobs, ${killed.size} kills, ${dupes.length} duplicate runs (all from killed workers: ${unexplained.length === 0}), ` +
          `${lost} lost, ${processing} left PROCESSING, ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      expect(killed.size).toBeGreaterThan(0);
      expect(lost).toBe(0);
      expect(processing).toBe(0);
      expect(ran[0].n).toBe(JOBS);
      expect(unexplained).toEqual([]);
      expect(codes.every((code) => code === 0)).toBe(true); // survivors stopped cleanly, no unhandled rejection
    },
    FULL ? 900_000 : 180_000,
  );
});
