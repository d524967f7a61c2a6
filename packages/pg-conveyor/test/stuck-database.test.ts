/**
 * A stuck database must not freeze the queue: the pool the queue opens bounds every statement
 * (statement_timeout, lock_timeout), so a lock held by someone's long migration makes claims fail
 * fast, the worker says so and tries again at its next poll, and it goes on once the lock is gone.
 */
import { describe, expect, it } from 'vitest';
import { DatabaseQueue } from 'pg-conveyor';
import { Worker } from 'pg-conveyor/worker';
import { useQueue } from './helpers/queue';
import { until } from './helpers/wait';

const t = useQueue({ poolMax: 4, lockTimeoutMs: 300, statementTimeoutMs: 20_000, reset: true });
const db = t.db;

describe('statement bounds', () => {
  it('the queue’s own connections carry statement_timeout and lock_timeout (defaults 60 s and 5 s)', async () => {
    const settings = async (q: DatabaseQueue) =>
      (await q.pool.query(`SELECT current_setting('statement_timeout') AS s, current_setting('lock_timeout') AS l`)).rows[0];
    expect(await settings(t.queue)).toEqual({ s: '20s', l: '300ms' });
    // Also when the queue does not prepare its statements: the bounds do not depend on that.
    for (const preparedStatements of [true, false]) {
      const defaults = new DatabaseQueue({ connectionString: db.current.url, poolMax: 1, logger: false, preparedStatements });
      try {
        expect(await settings(defaults)).toEqual({ s: '1min', l: '5s' });
      } finally {
        await defaults.close();
      }
    }
  });

  it('a migration holding an exclusive lock on job_queue: claims fail within the lock timeout, the worker reports it and resumes once the lock is gone', async () => {
    const ran: number[] = [];
    const errors: string[] = [];
    const worker = new Worker({
      queue: t.queue,
      pollIntervalMs: 200,
      logger: false,
      handlers: { STUCK: async (job) => void ran.push((job.payload as { n: number }).n) },
    });
    worker.on('error', (error) => errors.push((error as { code?: string }).code ?? error.message));
    await worker.start();
    const migration = await db.current.pool.connect();
    try {
      await t.queue.enqueue({ jobType: 'STUCK', payload: { n: 1 } });
      await until(() => ran.includes(1));
      await migration.query('BEGIN');
      await migration.query('LOCK TABLE job_queue IN ACCESS EXCLUSIVE MODE');
      const started = Date.now();
      await expect(t.queue.claimJobs(['STUCK'], 1)).rejects.toMatchObject({ code: '55P03' }); // lock_not_available
      expect(Date.now() - started).toBeLessThan(3_000);
      await until(() => errors.includes('55P03'), 5_000); // the worker's polls meet the lock too, and say so
      await migration.query('COMMIT');
      await t.queue.enqueue({ jobType: 'STUCK', payload: { n: 2 } });
      await until(() => ran.includes(2));
    } finally {
      await migration.query('ROLLBACK').catch(() => {});
      migration.release();
      await worker.stop();
    }
  });
});
