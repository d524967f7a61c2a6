import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseQueue } from 'pg-conveyor';
import { useTestDatabase } from './helpers/db';

const db = useTestDatabase();

describe('concurrent enqueues on a real server', () => {
  let listener: pg.Client;
  const heard: string[] = [];

  beforeAll(async () => {
    listener = new pg.Client({ connectionString: db.current.url });
    await listener.connect();
    listener.on('notification', (m) => heard.push(m.payload ?? ''));
    await listener.query(`LISTEN conveyor_jobs`);
  });
  afterAll(async () => listener.end());

  it('30 single enqueues from 10 callers: fewer NOTIFYs than jobs, each naming the ready type', async () => {
    const queue = new DatabaseQueue({ connectionString: db.current.url, poolMax: 10 });
    try {
      await Promise.all(
        Array.from({ length: 10 }, async (_, c) => {
          for (let i = 0; i < 3; i++) await queue.enqueue({ jobType: 'WAKE', payload: { c, i } });
        }),
      );
      await queue.close(); // waits for the trailing NOTIFY
      await new Promise((r) => setTimeout(r, 200));
      expect(heard.length).toBeGreaterThan(0);
      expect(heard.length).toBeLessThan(30);
      expect(new Set(heard)).toEqual(new Set(['WAKE']));
    } finally {
      await queue.close().catch(() => {});
    }
  });

  it('a job delayed into the future wakes nobody', async () => {
    heard.length = 0;
    const queue = new DatabaseQueue({ connectionString: db.current.url, poolMax: 2 });
    await Promise.all([queue.enqueue({ jobType: 'LATER', delayMs: 60_000 }), queue.enqueue({ jobType: 'LATER', delayMs: 60_000 })]);
    await queue.close();
    await new Promise((r) => setTimeout(r, 200));
    expect(heard).toEqual([]);
  });
});
