import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseQueue } from 'pg-conveyor';
import { newJobId } from '../src/core/job-id';
import { JOBS_CHANNEL } from '../src/sql/jobs-insert';
import { Wakeups } from '../src/core/wakeups';
import { useTestDatabase } from './helpers/db';

const db = useTestDatabase();

describe('Wakeups: one NOTIFY in a statement at a time, the rest announced after they commit', () => {
  function recorder() {
    const sent: string[][] = [];
    let release: () => void = () => {};
    const wakeups = new Wakeups(
      async (types) => {
        sent.push(types.sort());
        await new Promise<void>((resolve) => (release = resolve));
      },
      () => {},
    );
    return { wakeups, sent, release: () => release() };
  }

  it('the first enqueue leads; those during it wait for it to finish, then share one trailing NOTIFY', async () => {
    const { wakeups, sent, release } = recorder();
    expect(wakeups.takeLeading()).toBe(true);
    expect(wakeups.takeLeading()).toBe(false);
    wakeups.announce(['A']);
    wakeups.announce(['B', 'A']);
    expect(sent).toEqual([]); // the leading statement may not have committed yet
    wakeups.leadingDone();
    expect(sent).toEqual([['A', 'B']]);
    // While the trailing NOTIFY is out, new announcements wait for it, then go together.
    wakeups.announce(['C']);
    wakeups.announce(['D']);
    expect(sent).toHaveLength(1);
    release();
    await new Promise((r) => setTimeout(r, 0));
    expect(sent).toEqual([
      ['A', 'B'],
      ['C', 'D'],
    ]);
    const settled = wakeups.settled();
    release();
    await settled;
  });

  it('an announcement with nothing in flight is sent at once', () => {
    const { wakeups, sent } = recorder();
    wakeups.announce(['A']);
    expect(sent).toEqual([['A']]);
  });
});

describe('concurrent enqueues on a real server', () => {
  let listener: pg.Client;
  const heard: string[] = [];

  beforeAll(async () => {
    listener = new pg.Client({ connectionString: db.current.url });
    await listener.connect();
    listener.on('notification', (m) => heard.push(m.payload ?? ''));
    await listener.query(`LISTEN ${JOBS_CHANNEL}`);
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

describe('newJobId', () => {
  it('makes UUIDv7s that increase strictly within a process, even thousands in one millisecond', () => {
    const ids = Array.from({ length: 5_000 }, () => newJobId());
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    const ms = parseInt(ids[0]!.replace(/-/g, '').slice(0, 12), 16);
    expect(Math.abs(ms - Date.now())).toBeLessThan(5_000);
  });
});
