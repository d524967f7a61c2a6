/**
 * The queue's own transactions (sql/executor.ts inTransaction) when the connection goes: the
 * caller gets the error, the process stays up, and the pool does not keep a broken connection.
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { inTransaction } from '../../src/sql/executor';
import { useTestDatabase } from '../helpers/db';

const db = useTestDatabase();
const uncaught: Error[] = [];
const onUncaught = (error: Error) => uncaught.push(error);
afterEach(() => {
  process.off('uncaughtException', onUncaught);
});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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
});
