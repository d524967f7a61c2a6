/**
 * PostgreSQL itself killed mid-write: on a durable cluster of the test's own (fsync and
 * synchronous_commit on, PostgreSQL's defaults), under producers (single, bulk, in app
 * transactions), three worker processes and cron ticks, the postmaster and every backend are
 * SIGKILLed at random moments and the server restarted (crash recovery). Judged by the clients'
 * ledger (durable-traffic.ts): every acknowledged enqueue and completion survives, every
 * unknown outcome resolves to exactly one job, and every job completes.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { migrate } from '@/lib/db/migrations';
import { startScratchCluster, type ScratchCluster } from '../../scripts/db/scratch-cluster';
import { FULL, sleep } from './chaos-helpers';
import { DurableTraffic, type FaultTimes } from './durable-traffic';

const CRASHES = FULL ? 6 : 2;
/** Time under load before each crash. */
const RUN_MS: [number, number] = FULL ? [4_000, 9_000] : [2_000, 4_000];
/** How long the server stays dead before the restart begins. */
const DOWN_MS: [number, number] = [0, 1_000];
const between = ([lo, hi]: [number, number]) => lo + Math.random() * (hi - lo);

let cluster: ScratchCluster | undefined;
let traffic: DurableTraffic | undefined;
afterAll(async () => {
  await traffic?.kill();
  await traffic?.close();
  cluster?.stop();
});

describe(`PostgreSQL crash (${FULL ? 'full' : 'fast'} tier, durable cluster)`, () => {
  it(
    `${CRASHES} SIGKILLs of the whole server under producers, workers and ticks: nothing acknowledged lost, every unknown outcome resolved once, every job completes`,
    async () => {
      cluster = await startScratchCluster({ durable: true });
      await migrate({ connectionString: cluster.url });
      traffic = new DurableTraffic(cluster.url);
      await traffic.start();

      const faults: (FaultTimes & { down: number; recovery: number })[] = [];
      for (let i = 0; i < CRASHES; i++) {
        await sleep(between(RUN_MS));
        const killedAt = Date.now();
        cluster.crash();
        await sleep(between(DOWN_MS));
        const restarting = Date.now();
        cluster.start(); // crash recovery replays the WAL; returns once it takes connections
        const back = Date.now();
        faults.push({ down: back - killedAt, recovery: back - restarting, ...(await traffic.resumedAfter(back)) });
      }
      await sleep(1_000);
      const codes = await traffic.stop(120_000);
      const verdict = await traffic.verify();

      console.log(`postgres crash test: ${CRASHES} crashes; ${JSON.stringify(verdict, (k, v) => (Array.isArray(v) ? v.length : v))}`);
      for (const [i, f] of faults.entries()) {
        console.log(
          `  crash ${i + 1}: down ${f.down} ms (crash recovery ${f.recovery} ms); after it, first enqueue ${f.enqueue} ms, ` +
            `worker completion ${f.workerCompletion} ms, tick completion ${f.tickCompletion} ms`,
        );
      }
      expect(verdict.lostEnqueues).toEqual([]);
      expect(verdict.lostCompletions).toEqual([]);
      expect(verdict.torn).toBe(0);
      expect(verdict.unknown.unresolved).toBe(0);
      expect(verdict.unknown.split).toBe(0); // a bulk enqueue commits whole or not at all
      expect(verdict.unaccounted).toBe(0); // no retried enqueue made a second job
      expect(verdict.jobs).toBe(verdict.acknowledgedEnqueues);
      expect(verdict.leftProcessing).toBe(0);
      expect(verdict.notCompleted).toBe(0);
      // Each crash hit work in flight, and the load went on after each.
      expect(verdict.unknown.total).toBeGreaterThan(0);
      for (const f of faults) expect(Math.max(f.enqueue, f.workerCompletion, f.tickCompletion)).toBeLessThan(10_000);
      expect(codes.every((code) => code === 0)).toBe(true);
    },
    FULL ? 600_000 : 240_000,
  );
});
