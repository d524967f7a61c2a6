/**
 * A migration's connection that dies while it waits for the migrations' lock: node-postgres emits
 * 'error' on that client, which with no listener is an uncaught exception ending the app's
 * process. The call must fail with the error instead. (The queue's own transactions under the
 * same loss: packages/pg-conveyor/test/internal/executor.test.ts.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { migrate } from 'pg-conveyor';
import { useTestDatabase } from '../../packages/pg-conveyor/test/helpers/db';
import { sleep } from './chaos-helpers';

const db = useTestDatabase();
/** migrate.ts's advisory lock: one migration at a time per database. */
const MIGRATION_LOCK_KEY = '5118403227906170011';
const uncaught: Error[] = [];
const onUncaught = (error: Error) => uncaught.push(error);
afterEach(() => {
  process.off('uncaughtException', onUncaught);
});

describe('a connection lost inside a transaction', () => {
  it('rejects a migration whose connection is cut while it waits, and keeps the process alive', async () => {
    process.on('uncaughtException', onUncaught);
    // Another migration holds the migrations' advisory lock, so this one waits on it; then its
    // backend is terminated.
    const holder = await db.current.pool.connect();
    await holder.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      // Its rejection is caught at once: it may arrive while the terminate below is still awaited.
      const migrating = migrate({ connectionString: db.current.url }).then(
        () => null,
        (error: Error) => error,
      );
      let victim: number | undefined;
      for (let i = 0; i < 100 && victim === undefined; i++) {
        await sleep(50);
        const { rows } = await db.current.pool.query<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'SELECT pg_advisory_lock%'",
        );
        victim = rows[0]?.pid;
      }
      expect(victim).toBeDefined();
      await db.current.pool.query('SELECT pg_terminate_backend($1)', [victim]);
      expect((await migrating)?.message).toMatch(/terminat/i);
      await sleep(200);
      expect(uncaught.map((e) => e.message)).toEqual([]);
    } finally {
      await holder.query('SELECT pg_advisory_unlock_all()');
      holder.release();
    }
  });
});
