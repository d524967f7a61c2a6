/**
 * The invocation slots of fanned-out cron routes (migration 0014): each statement takes, hands on
 * or frees slots of one route, guarded by the holder id, so an invocation whose slot lease ran out
 * and was taken by another changes nothing. Slots are chosen like jobs are claimed: a CTE picks free
 * rows FOR UPDATE SKIP LOCKED (two takers never get one row, neither waits for the other) and the
 * UPDATE marks exactly those. Time is the database's.
 */
import type { SqlExecutor } from './executor.js';

/** A slot is free when nobody holds it or its holder's lease ran out. */
const FREE = `(s.holder IS NULL OR s.held_until < now())`;

/** Makes slots 0..cap-1 of a route that are missing (first use, or a raised cap); how many it made. */
export async function drainSlotSeed(db: SqlExecutor, p: { route: string; cap: number }): Promise<number> {
  const rows = await db.query<{ slot: number }>(
    `INSERT INTO drain_slots (route, slot) SELECT $1, generate_series(0, $2::int - 1)
     ON CONFLICT (route, slot) DO NOTHING RETURNING slot`,
    [p.route, p.cap],
    'conveyor.drainSlotSeed',
  );
  return rows.length;
}

/**
 * An arriving invocation takes its slot: the one reserved for `reserved` when it is still held for
 * it, else any free slot under the cap. None when every slot under the cap is held.
 */
export async function drainSlotTake(
  db: SqlExecutor,
  p: { route: string; cap: number; holder: string; reserved: string | null; leaseMs: number },
): Promise<{ slot: number } | undefined> {
  const rows = await db.query<{ slot: number }>(
    `WITH chosen AS (
       SELECT s.route, s.slot FROM drain_slots s
        WHERE s.route = $1 AND s.slot < $2 AND (${FREE} OR s.holder = $4::uuid)
        ORDER BY (s.holder = $4::uuid) IS TRUE DESC, s.slot
        LIMIT 1
        FOR UPDATE SKIP LOCKED
     )
     UPDATE drain_slots s
        SET holder = $3::uuid, held_until = now() + $5 * interval '1 millisecond', started_at = now()
       FROM chosen
      WHERE s.route = chosen.route AND s.slot = chosen.slot
     RETURNING s.slot`,
    [p.route, p.cap, p.holder, p.reserved, p.leaseMs],
    'conveyor.drainSlotTake',
  );
  return rows[0];
}

/**
 * Reserves free slots for invocations about to be started, so the route holds `want` in all (this
 * one included), never more than the cap: each reserved slot gets a new holder id (the started
 * invocation presents it) and a lease of `leaseMs` to arrive in.
 */
export async function drainSlotReserve(
  db: SqlExecutor,
  p: { route: string; cap: number; want: number; leaseMs: number },
): Promise<{ slot: number; holder: string }[]> {
  return db.query<{ slot: number; holder: string }>(
    `WITH chosen AS (
       SELECT s.route, s.slot FROM drain_slots s
        WHERE s.route = $1 AND s.slot < $2 AND ${FREE}
        ORDER BY s.slot
        LIMIT greatest(0, least($3::int, $2::int) - (SELECT count(*) FROM drain_slots h
                                                      WHERE h.route = $1 AND h.slot < $2 AND h.holder IS NOT NULL AND h.held_until >= now()))
        FOR UPDATE SKIP LOCKED
     )
     UPDATE drain_slots s
        SET holder = gen_random_uuid(), held_until = now() + $4 * interval '1 millisecond', started_at = NULL
       FROM chosen
      WHERE s.route = chosen.route AND s.slot = chosen.slot
     RETURNING s.slot, s.holder`,
    [p.route, p.cap, p.want, p.leaseMs],
    'conveyor.drainSlotReserve',
  );
}

/**
 * Hands the holder's slot on to an invocation about to be started (a new holder id and a lease to
 * arrive in), for a drain that ends with work left: the route keeps its place under the cap.
 */
export async function drainSlotHandOn(
  db: SqlExecutor,
  p: { route: string; holder: string; leaseMs: number },
): Promise<{ slot: number; holder: string } | undefined> {
  const rows = await db.query<{ slot: number; holder: string }>(
    `UPDATE drain_slots SET holder = gen_random_uuid(), held_until = now() + $3 * interval '1 millisecond', started_at = NULL
      WHERE route = $1 AND holder = $2::uuid
     RETURNING slot, holder`,
    [p.route, p.holder, p.leaseMs],
    'conveyor.drainSlotHandOn',
  );
  return rows[0];
}

/** Frees the holder's slot (an invocation done, or a reservation whose start failed). */
export async function drainSlotRelease(db: SqlExecutor, p: { route: string; holder: string }): Promise<boolean> {
  const rows = await db.query<{ slot: number }>(
    `UPDATE drain_slots SET holder = NULL, held_until = NULL, started_at = NULL
      WHERE route = $1 AND holder = $2::uuid
     RETURNING slot`,
    [p.route, p.holder],
    'conveyor.drainSlotRelease',
  );
  return rows.length > 0;
}
