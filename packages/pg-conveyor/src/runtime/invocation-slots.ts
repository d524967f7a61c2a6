/**
 * InvocationSlots, reached as `queue.invocations`: how many invocations of a cron route run at once,
 * counted in Postgres so every serverless instance sees the same count. A fanned-out cron route
 * (cronRoute's `fanOut`) takes a slot as it starts, reserves slots for the invocations it starts,
 * hands its slot on when it ends with work left, and frees it otherwise. Slots are leased: one held
 * by an invocation that was killed frees itself when its lease passes. Every call is one statement,
 * so it works behind PgBouncer in transaction mode.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ValidationError } from '../core/errors.js';
import type { QueueCore } from '../core/queue-core.js';
import { drainSlotHandOn, drainSlotRelease, drainSlotReserve, drainSlotSeed, drainSlotTake } from '../sql/drain-slots.js';

/** A slot held by this invocation: present `holder` to free or hand it on. */
export interface HeldSlot {
  route: string;
  slot: number;
  holder: string;
}

/** A slot kept for an invocation about to be started: it presents `holder` when it arrives. */
export interface ReservedSlot {
  slot: number;
  holder: string;
}

/** The most slots a route may have (the table's CHECK). */
export const MAX_INVOCATION_SLOTS = 1000;

const routeSchema = z.string().min(1).max(200);
const capSchema = z.number().int().min(1).max(MAX_INVOCATION_SLOTS);
const leaseSchema = z.number().int().min(1).max(3_600_000);

function checked<T>(schema: z.ZodType<T>, what: string, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw ValidationError.fromZod(what, parsed.error, value);
  return parsed.data;
}

export class InvocationSlots {
  constructor(private readonly core: QueueCore) {}

  /**
   * Takes a slot of `route` for `leaseMs`: the one reserved for `reserved` (a started invocation's
   * holder id) if it is still kept, else any free one under `cap`. Null when all `cap` are held.
   */
  async take(route: string, options: { cap: number; leaseMs: number; reserved?: string | null }): Promise<HeldSlot | null> {
    const p = {
      route: checked(routeSchema, 'route', route),
      cap: checked(capSchema, 'cap', options.cap),
      leaseMs: checked(leaseSchema, 'leaseMs', options.leaseMs),
      reserved: options.reserved && z.uuid().safeParse(options.reserved).success ? options.reserved : null,
      holder: randomUUID(),
    };
    let taken = await drainSlotTake(this.core.db, p);
    if (!taken) {
      // The route's first use, or a raised cap: make its slots (or wait for a concurrent taker
      // making them to commit), then take one.
      await drainSlotSeed(this.core.db, p);
      taken = await drainSlotTake(this.core.db, p);
    }
    return taken ? { route: p.route, slot: taken.slot, holder: p.holder } : null;
  }

  /** Reserves slots so that `want` invocations of the route are held in all, at most `cap`: what an invocation about to start more may start. */
  async reserve(route: string, options: { cap: number; want: number; leaseMs: number }): Promise<ReservedSlot[]> {
    const want = checked(z.number().int().min(0), 'want', options.want);
    if (want === 0) return [];
    return drainSlotReserve(this.core.db, {
      route: checked(routeSchema, 'route', route),
      cap: checked(capSchema, 'cap', options.cap),
      want: Math.min(want, MAX_INVOCATION_SLOTS),
      leaseMs: checked(leaseSchema, 'leaseMs', options.leaseMs),
    });
  }

  /** Hands a held slot on to an invocation about to be started; null when the slot is no longer ours. */
  async handOn(held: HeldSlot, options: { leaseMs: number }): Promise<ReservedSlot | null> {
    return (await drainSlotHandOn(this.core.db, { route: held.route, holder: held.holder, leaseMs: checked(leaseSchema, 'leaseMs', options.leaseMs) })) ?? null;
  }

  /** Frees a slot held or reserved (by its holder id); false when it was no longer ours. */
  async release(route: string, holder: string): Promise<boolean> {
    return drainSlotRelease(this.core.db, { route: checked(routeSchema, 'route', route), holder: checked(z.uuid(), 'holder', holder) });
  }
}
