/**
 * Zombie fencing: a worker process frozen (SIGSTOP) past its lease while another worker rescues,
 * claims and completes its job. Resumed, the zombie's completion changes nothing.
 */
import { describe, expect, it } from 'vitest';
import { DatabaseQueue } from 'pg-conveyor';
import { useTestDatabase } from '../../packages/pg-conveyor/test/helpers/db';
import { createLedger, sleep, startWorker, stopWorker } from './chaos-helpers';
import { until } from '../../packages/pg-conveyor/test/helpers/wait';

const db = useTestDatabase();

describe('zombie fencing', () => {
  it('a worker paused past its lease and resumed changes nothing', async () => {
    await createLedger(db.current.pool);
    // The rescuer retries at once (no backoff), so the test need not wait 10 s.
    const queue = new DatabaseQueue({ pool: db.current.pool, rescueIntervalMs: 0, backoff: { baseMs: 0 } });
    const { id } = await queue.enqueue({ jobType: 'CHAOS', payload: { ms: 2_500 } });
    const zombie = await startWorker({ DATABASE_URL: db.current.url, LEASE_MS: '1000', CONCURRENCY: '1' });
    try {
      for (let i = 0; i < 100 && (await db.current.pool.query('SELECT 1 FROM chaos_ledger')).rowCount === 0; i++) await sleep(50);
      zombie.child.kill('SIGSTOP'); // frozen mid-job: no heartbeat, no completion
      // Until its 1 s lease has run out by the database's clock (a heartbeat may have extended it just before the freeze).
      await until(
        async () => (await db.current.pool.query(`SELECT locked_until < now() AS expired FROM job_queue WHERE id = $1`, [id])).rows[0].expired,
        5_000,
      );
      const taken = await queue.claimJob(['CHAOS']); // rescues it, then claims attempt 2
      expect(taken).toMatchObject({ id, attempts: 2 });
      await queue.completeJob(taken!, { by: 'healthy worker' });

      zombie.child.kill('SIGCONT'); // it wakes, finishes its sleep, and tries to complete attempt 1
      for (let i = 0; i < 100 && !zombie.output.join('').includes(`lost ${id}`); i++) await sleep(50);
      expect(zombie.output.join('')).toContain(`lost ${id}`);
      expect(await queue.getJob(id)).toMatchObject({ status: 'COMPLETED', attempts: 2, result: { by: 'healthy worker' } });
    } finally {
      zombie.child.kill('SIGCONT');
      expect(await stopWorker(zombie)).toBe(0);
    }
  });
});
