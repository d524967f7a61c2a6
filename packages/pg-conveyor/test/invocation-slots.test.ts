import pg from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { DatabaseQueue, ValidationError } from 'pg-conveyor';
import { useQueue } from './helpers/queue';

const t = useQueue();
const db = t.db;

beforeEach(() => t.reset());

const held = async (route: string) =>
  Number(
    (await db.current.pool.query(`SELECT count(*) FROM drain_slots WHERE route = $1 AND holder IS NOT NULL AND held_until >= now()`, [route])).rows[0].count,
  );

describe('queue.invocations (the slots of a fanned-out cron route)', () => {
  it('20 takers on their own connections at once: exactly the cap get a slot, each a different one', async () => {
    const queues = Array.from({ length: 20 }, () => {
      const pool = new pg.Pool({ connectionString: db.current.url, max: 1 });
      pool.on('error', () => {});
      return new DatabaseQueue({ pool, logger: false });
    });
    try {
      await Promise.all(queues.map((q) => q.pool.query('SELECT 1'))); // connected before the race
      const taken = await Promise.all(queues.map((q) => q.invocations.take('/api/work', { cap: 5, leaseMs: 60_000 })));
      const slots = taken.filter((s) => s !== null).map((s) => s.slot);
      expect(slots.sort()).toEqual([0, 1, 2, 3, 4]);
      expect(await held('/api/work')).toBe(5);
    } finally {
      await Promise.all(queues.map((q) => q.pool.end()));
    }
  });

  it('a released slot is free again; a slot whose holder was killed frees itself when its lease passes', async () => {
    const a = (await t.queue.invocations.take('/r', { cap: 1, leaseMs: 300 }))!;
    expect(await t.queue.invocations.take('/r', { cap: 1, leaseMs: 60_000 })).toBeNull();
    await new Promise((r) => setTimeout(r, 400)); // a's lease passed: as if its invocation was killed
    const b = (await t.queue.invocations.take('/r', { cap: 1, leaseMs: 60_000 }))!;
    expect(b.slot).toBe(a.slot);
    expect(await t.queue.invocations.release('/r', a.holder)).toBe(false); // a zombie frees nothing
    expect(await t.queue.invocations.release('/r', b.holder)).toBe(true);
    expect(await t.queue.invocations.take('/r', { cap: 1, leaseMs: 60_000 })).not.toBeNull();
  });

  it('reserve fills up to `want` held in all, never past the cap; the started invocation takes its reserved slot', async () => {
    const self = (await t.queue.invocations.take('/r', { cap: 4, leaseMs: 60_000 }))!;
    const reserved = await t.queue.invocations.reserve('/r', { cap: 4, want: 3, leaseMs: 30_000 });
    expect(reserved).toHaveLength(2); // 3 wanted, this one included
    expect(await t.queue.invocations.reserve('/r', { cap: 4, want: 10, leaseMs: 30_000 })).toHaveLength(1);
    expect(await t.queue.invocations.reserve('/r', { cap: 4, want: 10, leaseMs: 30_000 })).toHaveLength(0);
    // A cron tick arriving now finds no slot; the started invocation finds its own.
    expect(await t.queue.invocations.take('/r', { cap: 4, leaseMs: 60_000 })).toBeNull();
    const child = (await t.queue.invocations.take('/r', { cap: 4, leaseMs: 60_000, reserved: reserved[0]!.holder }))!;
    expect(child.slot).toBe(reserved[0]!.slot);
    expect(await held('/r')).toBe(4);
    expect(self.slot).not.toBe(child.slot);
  });

  it('handOn passes a held slot to an invocation on its way; the old holder no longer has it', async () => {
    const self = (await t.queue.invocations.take('/r', { cap: 1, leaseMs: 60_000 }))!;
    const next = (await t.queue.invocations.handOn(self, { leaseMs: 30_000 }))!;
    expect(next.slot).toBe(self.slot);
    expect(await t.queue.invocations.handOn(self, { leaseMs: 30_000 })).toBeNull();
    expect(await t.queue.invocations.take('/r', { cap: 1, leaseMs: 60_000 })).toBeNull();
    expect(await t.queue.invocations.take('/r', { cap: 1, leaseMs: 60_000, reserved: next.holder })).toMatchObject({ slot: self.slot });
  });

  it('a raised cap makes the new slots; a lowered cap lets the slots above it empty and never refills them', async () => {
    for (let i = 0; i < 2; i++) expect(await t.queue.invocations.take('/r', { cap: 2, leaseMs: 60_000 })).not.toBeNull();
    expect(await t.queue.invocations.take('/r', { cap: 3, leaseMs: 60_000 })).toMatchObject({ slot: 2 });
    expect(await t.queue.invocations.take('/r', { cap: 1, leaseMs: 60_000 })).toBeNull();
  });

  it('bad input is a ValidationError and takes nothing', async () => {
    for (const bad of [{ cap: 0 }, { cap: 1001 }, { cap: 1.5 }, { leaseMs: 0 }]) {
      await expect(t.queue.invocations.take('/r', { cap: 1, leaseMs: 1_000, ...bad }), JSON.stringify(bad)).rejects.toBeInstanceOf(ValidationError);
    }
    await expect(t.queue.invocations.take('', { cap: 1, leaseMs: 1_000 })).rejects.toBeInstanceOf(ValidationError);
    await expect(t.queue.invocations.release('/r', 'not-a-uuid')).rejects.toBeInstanceOf(ValidationError);
    expect(await held('/r')).toBe(0);
  });
});
