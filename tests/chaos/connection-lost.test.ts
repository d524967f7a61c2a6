/**
 * A connection that dies while the queue holds it checked out of the pool for a transaction (a
 * server crash, a failover, a terminated backend between two statements): node-postgres emits
 * 'error' on that client, which with no listener is an uncaught exception ending the app's
 * process. The call must fail with the error instead, and the pool must not keep the connection,
 * nor one that reached a server taking no writes.
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { inTransaction } from '../../packages/pg-conveyor/src/sql/executor';
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

/** Terminates the backend of `client` and waits until its connection has seen the FATAL. */
async function terminateBetweenStatements(client: pg.ClientBase): Promise<void> {
  const {
    rows: [{ pid }],
  } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  await db.current.pool.query('SELECT pg_terminate_backend($1)', [pid]);
  await sleep(300);
}

describe('a connection lost inside a transaction', () => {
  it("rejects the queue's transaction, keeps the process alive, and the pool drops the connection", async () => {
    process.on('uncaughtException', onUncaught);
    const pool = new pg.Pool({ connectionString: db.current.url, max: 1 });
    pool.on('error', () => {});
    await expect(
      inTransaction(pool, async (client) => {
        await terminateBetweenStatements(client);
        await client.query('SELECT 1');
      }),
    ).rejects.toThrow(/terminat|connection/i);
    expect(uncaught.map((e) => e.message)).toEqual([]);
    expect((await pool.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    expect(pool.totalCount).toBe(1);
    await pool.end();
  });

  it('closes a connection that reached a server taking no writes, so the next transaction gets another', async () => {
    const pool = new pg.Pool({ connectionString: db.current.url, max: 1 });
    pool.on('error', () => {});
    await pool.query('CREATE TABLE IF NOT EXISTS written (n int)');
    // The pool's one connection now behaves as one to a standby would (25006 on every write),
    // as after a failover the address had not yet followed.
    await pool.query('SET SESSION default_transaction_read_only = on');
    const write = () => inTransaction(pool, (client) => client.query('INSERT INTO written VALUES (1)'));
    await expect(write()).rejects.toMatchObject({ code: '25006' });
    await write();
    expect((await pool.query('SELECT count(*)::int AS n FROM written')).rows[0].n).toBe(1);
    await pool.end();
  });

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
