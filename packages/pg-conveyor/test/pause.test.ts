/**
 * Pausing a job type: the claim statement itself skips it, so a running worker, a drain and any
 * other claimer stop taking it at once, with no restart; resuming wakes workers for it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseQueue, drainQueue, ValidationError } from 'pg-conveyor';
import { Worker } from 'pg-conveyor/worker';
import { useTestDatabase } from './helpers/db';
import { countJobs } from './helpers/jobs';
import { sleep, until } from './helpers/wait';

const db = useTestDatabase();
let queue: DatabaseQueue;

beforeAll(() => {
  queue = new DatabaseQueue({ connectionString: db.current.url, poolMax: 4, logger: false });
});
afterEach(async () => {
  await db.current.pool.query('DELETE FROM job_queue; DELETE FROM job_type_pauses');
});
afterAll(async () => queue.close());

describe('pausing a job type', () => {
  it('a running worker stops claiming it within one poll, other types go on, and resuming wakes the worker for it', async () => {
    const ran: string[] = [];
    const worker = new Worker({
      queue,
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
      await queue.enqueue({ jobType: 'REPORT', payload: { n: 1 } });
      await until(() => ran.includes('report 1'));
      expect(await queue.pauseType('REPORT', { by: 'ops@example.com' })).toBe(true);
      expect(await queue.pauseType('REPORT')).toBe(false); // paused already: the first pause stays
      await queue.enqueueMany([
        { jobType: 'REPORT', payload: { n: 2 } },
        { jobType: 'EMAIL', payload: { n: 1 } },
      ]);
      await until(() => ran.includes('email 1')); // the worker is awake and claiming
      await sleep(600); // three polls
      expect(ran).not.toContain('report 2');
      expect(await drainQueue(queue, { types: ['REPORT'], handler: async () => 'no', budgetMs: 1_000, minTimeToClaimMs: 100 })).toMatchObject({ processed: 0 });
      expect(await queue.claimJobs(['REPORT', 'EMAIL'], 10)).toEqual([]);
      expect(await queue.pausedTypes()).toEqual([{ jobType: 'REPORT', pausedAt: expect.any(Date), pausedBy: 'ops@example.com' }]);

      expect(await queue.resumeType('REPORT')).toBe(true);
      const resumedAt = Date.now();
      await until(() => ran.includes('report 2'));
      expect(Date.now() - resumedAt).toBeLessThan(2_000);
      expect(await queue.resumeType('REPORT')).toBe(false);
      expect(await queue.pausedTypes()).toEqual([]);
    } finally {
      await worker.stop();
    }
    expect(await countJobs(db.current.pool, "status = 'COMPLETED'")).toBe(3);
  });

  it('a job running when its type is paused finishes; a bad type or name is refused and writes nothing', async () => {
    await queue.enqueue({ jobType: 'LONG' });
    const [job] = await queue.claimJobs(['LONG'], 1);
    await queue.pauseType('LONG');
    await queue.completeJob(job!, { ok: true });
    expect((await queue.getJob(job!.id))!.status).toBe('COMPLETED');
    await expect(queue.pauseType('not a type!')).rejects.toBeInstanceOf(ValidationError);
    await expect(queue.pauseType('OK', { by: 'x'.repeat(201) })).rejects.toBeInstanceOf(ValidationError);
    expect((await queue.pausedTypes()).map((p) => p.jobType)).toEqual(['LONG']);
  });
});
