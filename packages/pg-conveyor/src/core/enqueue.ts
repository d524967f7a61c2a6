/**
 * Enqueueing: jobs validated, given their ids here, and inserted in one statement, all or none.
 * A plain batch is a plain INSERT; a batch carrying dedupe or unique keys skips the keys already
 * taken and answers those jobs with the job holding the key (marked `deduplicated`).
 */
import { nowParam } from './clock.js';
import { DEFAULTS } from './config.js';
import { QueueError, ValidationError } from './errors.js';
import { toExecutor, type Queryable, type SqlExecutor } from '../sql/executor.js';
import { parseEnqueue, toStoredJson } from './job-input.js';
import { newJobId } from './job-id.js';
import { newJobFromInsert, rowToJob } from '../sql/job-row.js';
import {
  carriesKeys,
  jobFindKeyHolders,
  jobInsertMany,
  jobInsertManySkippingTaken,
  jobNotifyReady,
  type InsertedJobRow,
  type NewJobRow,
} from '../sql/jobs-insert.js';
import type { QueueCore } from './queue-core.js';
import { tracedEnqueue, type TraceCarrier } from '../observability/telemetry.js';
import type { EnqueueInput, Job } from './types.js';
import { Wakeups } from './wakeups.js';

export interface EnqueueOptions {
  /** Run the INSERT on the caller's connection, inside their transaction (pg client or Prisma tx). */
  tx?: Queryable;
}

export class Enqueuer {
  /** NOTIFYs for enqueues made on the queue's own connections. */
  private readonly wakeups: Wakeups;

  constructor(private readonly core: QueueCore) {
    this.wakeups = new Wakeups(
      (types) => jobNotifyReady(core.db, { types }),
      (error) => core.events.emit('pool:error', error),
    );
  }

  /** Inserts all jobs in one statement: all are created or, on any invalid job, none. */
  async enqueueMany<P = unknown>(jobs: EnqueueInput<P>[], options: EnqueueOptions = {}): Promise<Job<P>[]> {
    if (!Array.isArray(jobs)) throw new ValidationError('Invalid jobs: expected an array of jobs');
    if (jobs.length === 0) return [];
    const rows = jobs.map((job, index) => this.toNewRow(job, jobs.length === 1 ? undefined : index));
    return tracedEnqueue(
      rows.map((row) => row.job_type),
      (carrier) => this.insertAll<P>(rows, carrier, options),
    );
  }

  /** The jobs inserted, or the holders of their keys; `carrier` is stored with them (telemetry.ts). */
  private async insertAll<P>(rows: NewJobRow[], carrier: TraceCarrier | null, options: EnqueueOptions): Promise<Job<P>[]> {
    const db = options.tx ? toExecutor(options.tx) : this.core.db;
    const now = nowParam(this.core.clock);
    const trace = carrier === null ? null : JSON.stringify(carrier);
    const result: (Job<P> | undefined)[] = new Array(rows.length);
    // RETURNING's order is not promised: match the answer to the input by id (a plain insert's
    // answer is built in input order, and needs no map).
    const place = (inserted: InsertedJobRow[], positions: number[]) => {
      if (inserted.length === positions.length && inserted.every((r, k) => r.id === rows[positions[k]!]!.id)) {
        positions.forEach((idx, k) => (result[idx] = newJobFromInsert<P>(rows[idx]!, inserted[k]!, carrier)));
        return;
      }
      const byId = new Map(inserted.map((r) => [r.id, r]));
      for (const idx of positions) {
        const r = byId.get(rows[idx]!.id);
        if (r) result[idx] = newJobFromInsert<P>(rows[idx]!, r, carrier);
      }
    };
    place(
      await this.insert(db, rows, now, trace, options.tx !== undefined),
      rows.map((_, idx) => idx),
    );
    const created = result.filter((job): job is Job<P> => job !== undefined);
    if (created.length > 0) this.core.events.emit('job:enqueued', created);
    // Rows skipped for a dedupe or unique key resolve to the job holding the key.
    for (let round = 0; result.includes(undefined); round++) {
      const skipped = rows.map((row, idx) => ({ ...row, idx })).filter(({ idx }) => result[idx] === undefined);
      for (const holder of await jobFindKeyHolders(db, { jobs: skipped, now })) result[holder.idx] = { ...rowToJob<P>(holder), deduplicated: true };
      if (!result.includes(undefined) || round === 2) break;
      // A holder finished between the insert and the look-up: the key is free again, insert anew.
      const retry = skipped.filter(({ idx }) => result[idx] === undefined).map(({ idx }) => idx);
      place(
        await this.insert(
          db,
          retry.map((idx) => rows[idx]!),
          now,
          trace,
          options.tx !== undefined,
        ),
        retry,
      );
    }
    if (result.includes(undefined)) throw new QueueError('Could not enqueue or find the holder of a deduplication key; try again');
    return result as Job<P>[];
  }

  /** A job as the insert statements take it, validated; `index` names it in a batch's errors. */
  toNewRow(input: unknown, index?: number): NewJobRow {
    const job = parseEnqueue(input, index);
    const scheduledFor = job.scheduledFor === undefined ? null : new Date(job.scheduledFor).toISOString();
    return {
      id: newJobId(),
      job_type: job.jobType,
      payloadJson: toStoredJson(job.payload, 'payload', this.core.options.maxPayloadBytes),
      priority: job.priority ?? DEFAULTS.priority,
      max_attempts: job.maxAttempts ?? this.core.options.defaultMaxAttempts,
      run_at: scheduledFor,
      delay_ms: job.delayMs ?? null,
      concurrency_key: job.concurrencyKey ?? null,
      dedupe_key: job.dedupe?.key ?? null,
      dedupe_window_ms: job.dedupe?.windowMs ?? null,
      unique_key: job.uniqueKey ?? null,
    };
  }

  /** Resolves once every NOTIFY this queue still owes has been sent (or given up). */
  settled(): Promise<void> {
    return this.wakeups.settled();
  }

  /** One INSERT statement; wakes workers in it, or leaves that to a trailing NOTIFY (wakeups.ts). */
  private async insert(db: SqlExecutor, jobs: NewJobRow[], now: Date | null, traceContext: string | null, inCallersTx: boolean): Promise<InsertedJobRow[]> {
    const leading = inCallersTx || this.wakeups.takeLeading();
    try {
      let inserted: InsertedJobRow[];
      let readyTypes: string[];
      if (carriesKeys(jobs)) {
        inserted = await jobInsertManySkippingTaken(db, { jobs, now, notify: leading, traceContext });
        readyTypes = inserted.filter((r) => r.run_at <= r.created_at).map((r) => r.job_type);
      } else {
        readyTypes = [...new Set(jobs.filter((job) => isDueNow(job, now)).map((job) => job.job_type))];
        const notify = leading && readyTypes.length > 0 ? readyTypes.join(',') : null;
        const answer = await jobInsertMany(db, { jobs, now, readyTypes: notify, traceContext });
        inserted = jobs.map((job) => plainInsertedRow(job, answer.created_at, now));
      }
      if (!leading) this.wakeups.announce(new Set(readyTypes));
      return inserted;
    } finally {
      if (leading && !inCallersTx) this.wakeups.leadingDone();
    }
  }
}

/**
 * Whether a new job is claimable at once, so worth a NOTIFY. Judged on this process's clock: a
 * wrong guess near the boundary costs one spurious wake-up or leaves the job to the next poll.
 */
function isDueNow(job: NewJobRow, clockNow: Date | null): boolean {
  if (job.delay_ms) return false;
  return job.run_at === null || new Date(job.run_at).getTime() <= (clockNow ?? new Date()).getTime();
}

/**
 * What a plain insert stored for a job, without reading it back: created_at is the transaction's
 * now(), and run_at is computed as the INSERT computed it (its scheduledFor, else now plus delay).
 */
function plainInsertedRow(job: NewJobRow, createdAt: Date, clockNow: Date | null): InsertedJobRow {
  const base = (clockNow ?? createdAt).getTime();
  const runAt = job.run_at !== null ? new Date(job.run_at) : new Date(base + (job.delay_ms ?? 0));
  return { id: job.id, job_type: job.job_type, run_at: runAt, created_at: createdAt, dedupe_key: null, unique_key: null };
}
