/**
 * Pausing a job type: the claim statement itself skips it, so a running worker, a drain and any
 * other claimer stop taking it at once, with no restart; resuming wakes workers for it.
 */
import { describe, expect, it } from 'vitest';
import { drainQueue, ValidationError } from 'pg-conveyor';
import { Worker } from 'pg-conveyor/worker';
import { useQueue } from './helpers/queue';
import { countJobs } from './helpers/jobs';
import { sleep, until } from './helpers/wait';

const t = useQueue({ poolMax: 4, reset: true });
const db = t.db;

describe('pausing a job type', () => {
  it('a running worker stops claiming it within one poll, other types go on, and resuming wakes the worker for it', async () => {
    const ran: string[] = [];
    const worker = new Worker({
      queue: t.queue,
      connectionString: db.current.url,
      pollIntervalMs: 200,
      logger: false,
      handlers: {
        REPORT: async (job) => void ran.push(`report ${(job.payload as { n: number }).n}`),
        EMAIL: async (job) => void ran.push(`email ${(job.payload as { n: number }).n}`),
      },
    });
    await worker.start();
    try {
      await t.queue.enqueue({ jobType: 'REPORT', payload: { n: 1 } });
      await until(() => ran.includes('report 1'));
      expect(await t.queue.pauseType('REPORT', { by: 'ops@example.com' })).toBe(true);
      expect(await t.queue.pauseType('REPORT')).toBe(false); // paused already: the first pause stays
      await t.queue.enqueueMany([
        { jobType: 'REPORT', payload: { n: 2 } },
        { jobType: 'EMAIL', payload: { n: 1 } },
      ]);
      await until(() => ran.includes('email 1')); // the worker is awake and claiming
      await sleep(600); // three polls
      expect(ran).not.toContain('report 2');
      expect(await drainQueue(t.queue, { types: ['REPORT'], handler: async () => 'no', budgetMs: 1_000, minTimeToClaimMs: 100 })).toMatchObject({
        processed: 0,
      });
      expect(await t.queue.claimJobs(['REPORT', 'EMAIL'], 10)).toEqual([]);
      expect(await t.queue.pausedTypes()).toEqual([{ jobType: 'REPORT', pausedAt: expect.any(Date), pausedBy: 'ops@example.com' }]);

      expect(await t.queue.resumeType('REPORT')).toBe(true);
      const resumedAt = Date.now();
      await until(() => ran.includes('report 2'));
      expect(Date.now() - resumedAt).toBeLessThan(2_000);
      expect(await t.queue.resumeType('REPORT')).toBe(false);
      expect(await t.queue.pausedTypes()).toEqual([]);
    } finally {
      await worker.stop();
    }
    expect(await countJobs(db.current.pool, "status = 'COMPLETED'")).toBe(3);
  });

  it('a job running when its type is paused finishes; a bad type or name is refused and writes nothing', async () => {
    await t.queue.enqueue({ jobType: 'LONG' });
    const [job] = await t.queue.claimJobs(['LONG'], 1);
    await t.queue.pauseType('LONG');
    await t.queue.completeJob(job!, { ok: true });
    expect((await t.queue.getJob(job!.id))!.status).toBe('COMPLETED');
    await expect(t.queue.pauseType('not a type!')).rejects.toBeInstanceOf(ValidationError);
    await expect(t.queue.pauseType('OK', { by: 'x'.repeat(201) })).rejects.toBeInstanceOf(ValidationError);
    expect((await t.queue.pausedTypes()).map((p) => p.jobType)).toEqual(['LONG']);
  });
});
