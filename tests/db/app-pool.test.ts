/** The app's one pool (Prisma and the queue share it) is bounded as the queue bounds a pool of its own. */
import { describe, expect, it } from 'vitest';
import { connections } from '@/lib/db/client';
import { useAppDatabase } from '../helpers/app-env';

useAppDatabase();

describe("the app's shared pool", () => {
  it('has the queue’s statement and lock timeouts, and generic plans for its prepared statements', async () => {
    const { pool, queue } = connections();
    const show = async (setting: string) => (await pool.query(`SHOW ${setting}`)).rows[0][setting];
    expect(await show('statement_timeout')).toBe('1min');
    expect(await show('lock_timeout')).toBe('5s');
    expect(await show('plan_cache_mode')).toBe('force_generic_plan');
    expect(queue.preparedStatements).toBe(true);
  });

  it('a table locked by someone’s migration makes a queue read fail after the lock timeout, not hang', async () => {
    const { pool, queue } = connections();
    const locker = await pool.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE job_queue IN ACCESS EXCLUSIVE MODE');
      const started = Date.now();
      await expect(queue.listJobs({ limit: 1 })).rejects.toThrow(/lock timeout/);
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      await locker.query('ROLLBACK');
      locker.release();
    }
  });
});
