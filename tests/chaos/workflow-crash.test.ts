/**
 * Workflow crash test: runs that fan out to 10 map items each, advanced by worker processes
 * SIGKILLed at random and restarted. Every run must complete with its right sum, nothing may be
 * left running, and every step body (a step's or a map item's) that ran twice must have been cut
 * short by a kill the first time: the replay never runs again what was stored.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { DatabaseQueue } from 'pg-conveyor';
import { Workflows } from 'pg-conveyor/workflows';
import { useTestDatabase } from '../../packages/pg-conveyor/test/helpers/db';
import { countJobs } from '../../packages/pg-conveyor/test/helpers/jobs';
import { FAN_OUT, LEDGER, chaosFanOut, createWorkflowLedger, expectedSum } from '../fixtures/chaos-fan-out-workflow';
import { FULL, sleep, startWorker, stopWorker, type WorkerProcess } from './chaos-helpers';

const db = useTestDatabase();
const RUNS = FULL ? 500 : 100;
const WORKERS = 4;
const KILL_EVERY_MS: [number, number] = FULL ? [2_000, 5_000] : [700, 1_500];
const SCRIPT = 'tests/fixtures/workflow-chaos-worker.ts';
const STEPS = ['list', ...Array.from({ length: FAN_OUT }, (_, i) => `item ${i}`), 'sum'];
/** The workers up and working; a killed one's replacement joins once it is ready. */
let workers: WorkerProcess[] = [];
const restarts: Promise<void>[] = [];

afterAll(async () => {
  await Promise.allSettled(restarts);
  await Promise.all(workers.map((w) => stopWorker(w, 'SIGKILL')));
});

const count = async (sql: string, params: unknown[] = []) => (await db.current.pool.query<{ n: number }>(sql, params)).rows[0]!.n;
const runsRunning = () => count(`SELECT count(*)::int AS n FROM workflow_runs WHERE status = 'RUNNING'`);

describe(`workflow crash test (${FULL ? 'full' : 'fast'} tier)`, () => {
  it(
    `${RUNS} runs with a fan-out of ${FAN_OUT}, ${WORKERS} worker processes, one SIGKILLed every ${KILL_EVERY_MS.join('-')} ms: all complete, duplicates only from killed workers`,
    async () => {
      const pool = db.current.pool;
      await createWorkflowLedger(pool);
      const workflows = new Workflows(new DatabaseQueue({ pool, logger: false }), [chaosFanOut(pool)]);
      const inputOf = new Map<string, number>();
      for (let n = 0; n < RUNS; n += 25) {
        const batch = Array.from({ length: Math.min(25, RUNS - n) }, (_, i) => n + i);
        const started = await Promise.all(batch.map((i) => workflows.start('chaos-fan-out', { n: i })));
        started.forEach(({ runId }, i) => inputOf.set(runId, batch[i]!));
      }

      // A killed worker's jobs come back once their lease runs out, after a retry delay: 100 ms
      // here (the default 10 s would have the test wait for the jobs killed last, not test more).
      const env = { DATABASE_URL: db.current.url, LEASE_MS: '1500', RESCUE_MS: '300', BACKOFF_MS: '100' };
      workers = await Promise.all(Array.from({ length: WORKERS }, () => startWorker(env, SCRIPT)));
      const killed = new Set<number>();
      const started = Date.now();
      const deadline = started + (FULL ? 600_000 : 120_000);
      let nextKill = Date.now() + KILL_EVERY_MS[0];
      // Done when every run has finished and no job is left to run (a killed advance's rescue included).
      while (((await runsRunning()) > 0 || (await countJobs(pool, "status IN ('PENDING', 'PROCESSING')")) > 0) && Date.now() < deadline) {
        // At most two replacements starting at once (a start takes seconds on a busy machine):
        // with every worker restarting, the test would only get slower, not test more.
        if (Date.now() >= nextKill && workers.length >= WORKERS - 1) {
          const [victim] = workers.splice(Math.floor(Math.random() * workers.length), 1);
          killed.add(victim!.pid);
          await stopWorker(victim!, 'SIGKILL');
          // Restarted in the background, so the kills keep their pace when a start is quick.
          restarts.push(startWorker(env, SCRIPT).then((w) => void workers.push(w)));
          nextKill = Date.now() + KILL_EVERY_MS[0] + Math.random() * (KILL_EVERY_MS[1] - KILL_EVERY_MS[0]);
        }
        await sleep(100);
      }
      const seconds = (Date.now() - started) / 1000;
      await Promise.all(restarts);
      const codes = await Promise.all(workers.map((w) => stopWorker(w)));
      const unclean = workers.flatMap((w, i) => (codes[i] === 0 ? [] : [{ pid: w.pid, code: codes[i], output: w.output.join('').slice(-2_000) }]));
      workers = [];

      const { rows: runs } = await pool.query<{ id: string; status: string; output: unknown }>('SELECT id, status, output FROM workflow_runs');
      const stuck = runs.filter((r) => r.status === 'RUNNING').map((r) => r.id);
      const lost = runs.filter((r) => r.status !== 'RUNNING' && (r.status !== 'COMPLETED' || r.output !== expectedSum(inputOf.get(r.id)!)));
      const processing = await countJobs(pool, "status = 'PROCESSING'");
      const unfinishedJobs = await countJobs(pool, "status <> 'COMPLETED'");
      // Step bodies that never ran: a run cannot have completed rightly without them, but say which.
      const { rows: neverRan } = await pool.query(
        `SELECT r.id, s.step FROM workflow_runs r CROSS JOIN unnest($1::text[]) AS s(step)
        WHERE NOT EXISTS (SELECT 1 FROM ${LEDGER} l WHERE l.run_id = r.id AND l.step = s.step)`,
        [STEPS],
      );
      const { rows: dupes } = await pool.query<{ run_id: string; step: string; pids: number[] }>(
        `SELECT run_id, step, array_agg(pid ORDER BY at) AS pids FROM ${LEDGER} GROUP BY run_id, step HAVING count(*) > 1`,
      );
      // A body runs again only after the execution before it was cut short by a kill.
      const unexplained = dupes.filter((d) => d.pids.slice(0, -1).some((pid) => !killed.has(pid)));
      console.log(
        `workflow crash test: ${RUNS} runs x ${FAN_OUT} items, ${killed.size} kills, ${dupes.length} duplicate step bodies ` +
          `(all from killed workers: ${unexplained.length === 0}), ${lost.length + RUNS - runs.length} lost, ${stuck.length} stuck, ${seconds.toFixed(1)} s`,
      );
      expect(killed.size).toBeGreaterThan(0);
      expect(runs).toHaveLength(RUNS);
      expect(stuck).toEqual([]);
      expect(lost).toEqual([]);
      expect(processing).toBe(0);
      expect(unfinishedJobs).toBe(0);
      expect(neverRan).toEqual([]);
      expect(unexplained).toEqual([]);
      expect(unclean).toEqual([]); // survivors stopped cleanly, no unhandled rejection
    },
    FULL ? 900_000 : 180_000,
  );
});
