/**
 * The retry a client makes when it cannot know whether its enqueue committed: the statement
 * reached the server and committed, and the connection died before the answer came back (a
 * crash or failover at the wrong moment). Retried with the same `uniqueKey`, the enqueue finds
 * the job the first call made and answers it (`deduplicated: true`), so exactly one exists.
 * Without a key the same retry makes a second job, which is why the README asks for one.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { DatabaseQueue } from 'pg-conveyor';
import { useTestDatabase } from '../../packages/pg-conveyor/test/helpers/db';
import { sleep } from './chaos-helpers';
import { startTcpProxy, type TcpProxy } from './tcp-proxy';

const db = useTestDatabase();
let proxy: TcpProxy | undefined;
let queue: DatabaseQueue | undefined;
afterAll(async () => {
  await queue?.close();
  await proxy?.close();
});

/** Runs `call` with its answer lost: sent and committed, then the connection is cut. */
async function answerLost(call: () => Promise<unknown>): Promise<string> {
  proxy!.swallowReplies();
  const pending = call().then(
    () => 'answered',
    (e: Error) => e.message,
  );
  await sleep(500); // the statement runs and commits meanwhile; its answer goes nowhere
  proxy!.repoint(proxy!.target);
  return pending;
}

const count = async (where: string, params: unknown[]) =>
  (await db.current.pool.query(`SELECT count(*)::int AS n FROM job_queue WHERE ${where}`, params)).rows[0].n as number;

describe('an enqueue whose answer was lost, retried', () => {
  it('with a uniqueKey: the retry answers the job the first call committed, and one job exists', async () => {
    const url = new URL(db.current.url);
    proxy = await startTcpProxy(Number(url.port));
    url.port = String(proxy.port);
    queue = new DatabaseQueue({ connectionString: url.toString(), poolMax: 1 });
    queue.events.on('pool:error', () => {});
    await queue.getQueueStats(); // the connection is open before its answers are dropped

    const order = { jobType: 'SEND_RECEIPT', payload: { orderId: 42 }, uniqueKey: 'receipt:order-42' };
    expect(await answerLost(() => queue!.enqueue(order))).toMatch(/terminated|Connection|ECONNRESET/i);
    expect(await count('unique_key = $1', ['receipt:order-42'])).toBe(1); // it had committed
    const retried = await queue.enqueue(order);
    expect(retried.deduplicated).toBe(true);
    expect(await count('unique_key = $1', ['receipt:order-42'])).toBe(1);
    const { rows } = await db.current.pool.query('SELECT id FROM job_queue WHERE unique_key = $1', ['receipt:order-42']);
    expect(retried.id).toBe(rows[0].id);

    // A bulk enqueue the same way: every job is answered by the one its first call made.
    const batch = [1, 2, 3].map((n) => ({ jobType: 'SEND_RECEIPT', payload: { orderId: n }, uniqueKey: `receipt:order-${n}` }));
    expect(await answerLost(() => queue!.enqueueMany(batch))).toMatch(/terminated|Connection|ECONNRESET/i);
    const again = await queue.enqueueMany(batch);
    expect(again.map((j) => j.deduplicated)).toEqual([true, true, true]);
    expect(await count("unique_key LIKE 'receipt:order-_'", [])).toBe(3);

    // Without a key, the same retry makes a second job.
    const plain = { jobType: 'SEND_RECEIPT', payload: { orderId: 7 } };
    expect(await answerLost(() => queue!.enqueue(plain))).toMatch(/terminated|Connection|ECONNRESET/i);
    await queue.enqueue(plain);
    expect(await count("payload->>'orderId' = '7'", [])).toBe(2);
  });
});
