/**
 * Claiming: the next ready jobs of the given types, in one statement, highest priority first,
 * each given a lease. Types with limits (concurrency, rate) are claimed in a short transaction of
 * their own that counts what runs; expired leases are rescued on the way, at most once per
 * rescueIntervalMs per instance.
 */
import { z } from 'zod';
import { nowParam } from './clock.js';
import { ValidationError } from './errors.js';
import { inTransaction, toExecutor } from '../sql/executor.js';
import { parseClaimLimit, parseJobTypes } from './job-input.js';
import { rowToJob, type JobRow } from '../sql/job-row.js';
import { rescueExpired } from './job-actions.js';
import { jobClaimAvailable } from '../sql/jobs-write.js';
import {
  typeLimitAllowance,
  typeLimitDelete,
  typeLimitList,
  typeLimitLock,
  typeLimitRecordStarts,
  typeLimitUpsert,
  typePause,
  typePausedList,
  typeResume,
} from '../sql/type-limits.js';
import type { QueueCore } from './queue-core.js';
import type { Job } from './types.js';

export interface ClaimOptions {
  /** Lease for these claims; defaults to the queue's leaseMs. */
  leaseMs?: number;
}

export interface PausedType {
  jobType: string;
  pausedAt: Date;
  /** Who paused it, as the caller said (an admin's email, "cli"). */
  pausedBy: string | null;
}

export interface TypeLimits {
  concurrency?: number | null;
  rate?: { limit: number; periodMs: number } | null;
}

/** What setTypeLimits takes; the admin API's body is this with the type, both fields required. */
export const typeLimitsSchema = z
  .object({
    concurrency: z.number().int().min(1).max(10_000).nullable().optional(),
    rate: z
      .object({ limit: z.number().int().min(1).max(1_000_000), periodMs: z.number().int().min(1).max(86_400_000) })
      .strict()
      .nullable()
      .optional(),
  })
  .strict();

/** How often the set of limited types is re-read: a limit set elsewhere applies within this. */
const LIMITED_TYPES_TTL_MS = 5_000;

export class Claimer {
  private lastRescueAt = Number.NEGATIVE_INFINITY;
  private limitsCache: { loadedAt: number; types: Set<string> } | null = null;

  constructor(private readonly core: QueueCore) {}

  async claimJobs<P = unknown>(workerTypes: string[], limit: number, options: ClaimOptions = {}): Promise<Job<P>[]> {
    const types = parseJobTypes(workerTypes);
    const count = parseClaimLimit(limit);
    await this.rescueIfDue();
    const params = {
      types,
      limit: count,
      leaseMs: options.leaseMs ?? this.core.options.leaseMs,
      workerId: this.core.workerId,
      now: nowParam(this.core.clock),
    };
    const limited = await this.limitedTypes();
    const free = types.filter((type) => !limited.has(type));
    const rows = free.length > 0 ? await retryOnRunningKeyConflict(() => jobClaimAvailable(this.core.db, { ...params, types: free })) : [];
    for (const type of types.filter((t) => limited.has(t))) {
      if (rows.length >= count) break;
      const wanted = count - rows.length;
      rows.push(...(await retryOnRunningKeyConflict(() => this.claimLimited({ ...params, types: [type], limit: wanted }))));
    }
    const jobs = rows.map((row) => rowToJob<P>(row)).sort(claimOrder);
    for (const job of jobs) this.core.claims.track(job);
    if (jobs.length > 0) this.core.events.emit('job:claimed', jobs);
    return jobs;
  }

  async setTypeLimits(jobType: string, limits: TypeLimits): Promise<void> {
    const [type] = parseJobTypes([jobType]);
    const parsed = typeLimitsSchema.safeParse(limits);
    if (!parsed.success) throw ValidationError.fromZod('type limits', parsed.error, limits);
    const { concurrency, rate } = parsed.data;
    if (!concurrency && !rate) await typeLimitDelete(this.core.db, { jobType: type! });
    else {
      await typeLimitUpsert(this.core.db, {
        jobType: type!,
        maxRunning: concurrency ?? null,
        rateLimit: rate?.limit ?? null,
        ratePeriodMs: rate?.periodMs ?? null,
      });
    }
    this.limitsCache = null;
  }

  async pauseType(jobType: string, options: { by?: string } = {}): Promise<boolean> {
    const [type] = parseJobTypes([jobType]);
    if (options.by !== undefined && (typeof options.by !== 'string' || options.by.length > 200))
      throw new ValidationError('by must be a text of at most 200 characters');
    return typePause(this.core.db, { jobType: type!, by: options.by ?? null, now: nowParam(this.core.clock) });
  }

  async resumeType(jobType: string): Promise<boolean> {
    const [type] = parseJobTypes([jobType]);
    return typeResume(this.core.db, { jobType: type! });
  }

  async pausedTypes(): Promise<PausedType[]> {
    return (await typePausedList(this.core.db)).map((row) => ({ jobType: row.job_type, pausedAt: row.paused_at, pausedBy: row.paused_by }));
  }

  async rescueExpired(): Promise<number> {
    this.lastRescueAt = Date.now();
    return rescueExpired(this.core);
  }

  /** The claim path rescues at most once per rescueIntervalMs per instance (0 = every claim). */
  private async rescueIfDue(): Promise<void> {
    // Wall-clock pacing only decides how often to look; which leases expired is the database's call.
    if (Date.now() - this.lastRescueAt >= this.core.options.rescueIntervalMs) await this.rescueExpired();
  }

  /**
   * A claim of a type with limits, in one short transaction: lock the type's limits row (claimers
   * of the type take turns), count what is running now and what started in the rate's window,
   * claim no more than that, record the starts. Unlimited types never come here.
   */
  private async claimLimited(params: Parameters<typeof jobClaimAvailable>[1]): Promise<JobRow[]> {
    const jobType = params.types[0]!;
    return inTransaction(this.core.pool, async (client) => {
      const db = toExecutor(client, { prepare: this.core.prepare });
      const [limits] = await typeLimitLock(db, { jobType });
      const allowed = limits ? await typeLimitAllowance(db, { jobType, wanted: params.limit, now: params.now }) : params.limit;
      const rows = allowed > 0 ? await jobClaimAvailable(db, { ...params, limit: allowed }) : [];
      if (limits?.rate_limit && rows.length > 0) await typeLimitRecordStarts(db, { jobType, now: params.now, taken: rows.length });
      return rows;
    });
  }

  private async limitedTypes(): Promise<Set<string>> {
    if (!this.limitsCache || Date.now() - this.limitsCache.loadedAt > LIMITED_TYPES_TTL_MS) {
      const rows = await typeLimitList(this.core.db);
      this.limitsCache = { loadedAt: Date.now(), types: new Set(rows.map((r) => r.job_type)) };
    }
    return this.limitsCache.types;
  }
}

/**
 * A claim that lost a race for a concurrency key (another claimer started a job of the same key
 * between our check and our update) fails as a whole with 23505. Nothing was changed, so claim
 * again: the next statement sees the running job and skips its key.
 */
async function retryOnRunningKeyConflict<T>(claim: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await claim();
    } catch (error) {
      const pgError = error as { code?: string; constraint?: string };
      const lostKeyRace = pgError.code === '23505' && pgError.constraint === 'job_queue_one_running_per_key_idx';
      if (!lostKeyRace || attempt >= 5) throw error;
    }
  }
}

/** Priority first, then the order they became ready: the order the claim's index serves them. */
function claimOrder(a: Job, b: Job): number {
  return b.priority - a.priority || a.runAt.getTime() - b.runAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
