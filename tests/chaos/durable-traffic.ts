/**
 * The load the durable fault tests put on a server while they crash it or fail it over, and the
 * client-side ledger they judge it by. The ledger holds only what the clients were told: an
 * enqueue or a completion counts as acknowledged once the call returned, and the database is
 * then checked against it. The database's own word is never taken for what it should hold.
 *
 * - Producers in this process: single enqueues, bulk enqueues of 50, and enqueues inside an
 *   app transaction that also inserts an order row. Every job carries an idempotency key
 *   (`uniqueKey`); a call that fails is an unknown outcome, retried with the same key until it
 *   is acknowledged, and what the retry answers (`deduplicated`) says whether the first call
 *   had committed after all.
 * - Worker processes (tests/fixtures/chaos-worker.ts) print each completion acknowledged.
 * - Cron ticks in this process: serverless drains of the TICK type every 300 ms.
 */
import { isDeepStrictEqual } from 'node:util';
import pg from 'pg';
import { DatabaseQueue, drainQueue, type Job } from 'pg-conveyor';
import { createLedger, sleep, startWorker, stopWorker, type WorkerProcess } from './chaos-helpers';

type Kind = 'single' | 'bulk' | 'tx';

interface UnknownOutcome {
  kind: Kind;
  keys: string[];
  /** The first failure's message: a refused connection never reached the server. */
  error: string;
  /** What the acknowledged retry found: the first call had committed, or had not. */
  resolved?: 'committed' | 'not committed' | 'split';
}

export interface FaultTimes {
  /** Milliseconds from the server being back (restarted, or the proxy repointed) to the first acknowledged... */
  enqueue: number;
  workerCompletion: number;
  tickCompletion: number;
}

export interface Verdict {
  acknowledgedEnqueues: number;
  acknowledgedCompletions: number;
  jobs: number;
  /** Acknowledged enqueues whose job is missing, or acknowledged completions not COMPLETED with their result. */
  lostEnqueues: string[];
  lostCompletions: string[];
  notCompleted: number;
  leftProcessing: number;
  /** Jobs no acknowledged call accounts for (a retried enqueue that made a second job would be one). */
  unaccounted: number;
  /** Transactions whose order row and job did not commit together. */
  torn: number;
  /** Worker jobs whose handler started more than once (at least once delivery; not a loss). */
  ranTwice: number;
  unknown: { total: number; refused: number; committed: number; notCommitted: number; split: number; unresolved: number };
  unknownByKind: Record<Kind, number>;
}

const WORKERS = 3;
const JOB_MS = [1, 20] as const;
const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));
const refused = (message: string) => /ECONNREFUSED|starting up|shutting down|in recovery mode|not yet accepting/.test(message);

export class DurableTraffic {
  /** uniqueKey -> id of the job the acknowledged enqueue returned. */
  readonly enqueued = new Map<string, string>();
  /** job id -> the result its acknowledged completion stored. */
  readonly completed = new Map<string, unknown>();
  readonly unknown: UnknownOutcome[] = [];
  private last = { enqueue: 0, workerCompletion: 0, tickCompletion: 0 };
  private running = false;
  private loops: Promise<void>[] = [];
  private workers: WorkerProcess[] = [];
  private readonly queue: DatabaseQueue;
  private readonly drainer: DatabaseQueue;
  private readonly txPool: pg.Pool;
  private seq = 0;

  /** `url`: the address clients use (the server, or the proxy in front of it). */
  constructor(private readonly url: string) {
    this.queue = new DatabaseQueue({ connectionString: url, poolMax: 4 });
    this.drainer = new DatabaseQueue({ connectionString: url, poolMax: 1 });
    this.txPool = new pg.Pool({ connectionString: url, max: 2 });
    this.txPool.on('error', () => {});
    for (const q of [this.queue, this.drainer]) q.events.on('pool:error', () => {});
    this.drainer.events.on('job:completed', (job) => {
      this.completed.set(job.id, job.result);
      this.last.tickCompletion = Date.now();
    });
  }

  async start(): Promise<void> {
    const admin = new pg.Pool({ connectionString: this.url, max: 1 });
    await createLedger(admin);
    await admin.query('CREATE TABLE IF NOT EXISTS chaos_orders (k text PRIMARY KEY)');
    await admin.end();
    const env = { DATABASE_URL: this.url, LEASE_MS: '2000', RESCUE_MS: '300', POLL_MS: '500', REPORT_COMPLETIONS: '1' };
    this.workers = await Promise.all(Array.from({ length: WORKERS }, () => startWorker(env, undefined, (line) => this.onWorkerLine(line))));
    this.running = true;
    this.loops = [
      this.every(10, () => this.single()),
      this.every(10, () => this.single()),
      this.every(250, () => this.bulk()),
      this.every(20, () => this.inTransaction()),
      this.every(300, () => this.tick()),
    ];
  }

  /** Milliseconds from `since` (epoch ms) to the first acknowledged enqueue, worker completion and tick completion after it. */
  async resumedAfter(since: number, timeoutMs = 30_000): Promise<FaultTimes> {
    const first: Partial<FaultTimes> = {};
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // Polled often enough that the latest is the first to within a few milliseconds.
      for (const what of ['enqueue', 'workerCompletion', 'tickCompletion'] as const) {
        if (first[what] === undefined && this.last[what] >= since) first[what] = this.last[what] - since;
      }
      if (Object.keys(first).length === 3 || Date.now() > deadline) break;
      await sleep(5);
    }
    const never = Number.POSITIVE_INFINITY;
    return { enqueue: first.enqueue ?? never, workerCompletion: first.workerCompletion ?? never, tickCompletion: first.tickCompletion ?? never };
  }

  /**
   * Stops the producers (each finishes retrying its call until acknowledged) and the ticks, then
   * lets the workers and a last drain finish every job, and stops the workers. Returns the exit
   * codes of the workers (0: stopped cleanly, no unhandled rejection).
   */
  async stop(finishWithinMs: number): Promise<(number | null)[]> {
    this.running = false;
    await Promise.all(this.loops);
    const deadline = Date.now() + finishWithinMs;
    while (Date.now() < deadline) {
      await this.tick();
      const { rows } = await this.queue.pool.query(`SELECT count(*)::int AS n FROM job_queue WHERE status <> 'COMPLETED'`).catch(() => ({ rows: [{ n: -1 }] }));
      if (rows[0].n === 0) break;
      await sleep(200);
    }
    const codes = await Promise.all(this.workers.map((w) => stopWorker(w)));
    this.workers = [];
    return codes;
  }

  async kill(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers.map((w) => stopWorker(w, 'SIGKILL')));
    this.workers = [];
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.queue.close(), this.drainer.close(), this.txPool.end()]);
  }

  /** The database (at `url`, through whatever now serves it) against the ledger. */
  async verify(): Promise<Verdict> {
    const { rows: jobs } = await this.queue.pool.query<{ id: string; unique_key: string | null; status: string; result: unknown }>(
      'SELECT id, unique_key, status, result FROM job_queue',
    );
    const byId = new Map(jobs.map((j) => [j.id, j]));
    const { rows: orders } = await this.queue.pool.query<{ k: string }>('SELECT k FROM chaos_orders');
    const orderKeys = new Set(orders.map((o) => o.k));
    const jobKeys = new Set(jobs.map((j) => j.unique_key));
    const lostEnqueues = [...this.enqueued].filter(([key, id]) => byId.get(id)?.unique_key !== key).map(([key]) => key);
    const lostCompletions = [...this.completed]
      .filter(([id, result]) => byId.get(id)?.status !== 'COMPLETED' || !isDeepStrictEqual(byId.get(id)!.result, result))
      .map(([id]) => id);
    const txKeys = jobs.filter((j) => j.unique_key?.startsWith('t')).map((j) => j.unique_key!);
    const torn = txKeys.filter((k) => !orderKeys.has(k)).length + [...orderKeys].filter((k) => !jobKeys.has(k)).length;
    const {
      rows: [{ n: ranTwice }],
    } = await this.queue.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM (SELECT job_id FROM chaos_ledger GROUP BY job_id HAVING count(*) > 1) twice',
    );
    const count = (r: UnknownOutcome['resolved']) => this.unknown.filter((u) => u.resolved === r).length;
    const unknownByKind = { single: 0, bulk: 0, tx: 0 };
    for (const u of this.unknown) unknownByKind[u.kind]++;
    return {
      acknowledgedEnqueues: this.enqueued.size,
      acknowledgedCompletions: this.completed.size,
      jobs: jobs.length,
      lostEnqueues,
      lostCompletions,
      notCompleted: jobs.filter((j) => j.status !== 'COMPLETED').length,
      leftProcessing: jobs.filter((j) => j.status === 'PROCESSING').length,
      unaccounted: jobs.filter((j) => this.enqueued.get(j.unique_key ?? '') !== j.id).length,
      torn,
      ranTwice,
      unknown: {
        total: this.unknown.length,
        refused: this.unknown.filter((u) => refused(u.error)).length,
        committed: count('committed'),
        notCommitted: count('not committed'),
        split: count('split'),
        unresolved: count(undefined),
      },
      unknownByKind,
    };
  }

  private onWorkerLine(line: string): void {
    const match = /^completed (\S+) (.*)$/.exec(line);
    if (!match) return;
    this.completed.set(match[1]!, JSON.parse(match[2]!));
    this.last.workerCompletion = Date.now();
  }

  private every(ms: number, step: () => Promise<void>): Promise<void> {
    return (async () => {
      while (this.running) {
        await step();
        await sleep(ms);
      }
    })();
  }

  private newJob(key: string, jobType = 'CHAOS') {
    const ms = JOB_MS[0] + Math.floor(Math.random() * (JOB_MS[1] - JOB_MS[0]));
    return { jobType, payload: { k: key, ms }, uniqueKey: key, maxAttempts: 100 };
  }

  private single(): Promise<void> {
    const n = this.seq++;
    // One in ten is for the cron ticks, the rest for the worker processes.
    const job = this.newJob(`s${n}`, n % 10 === 0 ? 'TICK' : 'CHAOS');
    return this.untilAcknowledged('single', [job.uniqueKey], () => this.queue.enqueueMany([job]));
  }

  private bulk(): Promise<void> {
    const n = this.seq++;
    const jobs = Array.from({ length: 50 }, (_, i) => this.newJob(`b${n}:${i}`));
    return this.untilAcknowledged(
      'bulk',
      jobs.map((j) => j.uniqueKey),
      () => this.queue.enqueueMany(jobs),
    );
  }

  /** The app's own transaction: an order row and its job commit together or not at all. */
  private inTransaction(): Promise<void> {
    const key = `t${this.seq++}`;
    return this.untilAcknowledged('tx', [key], async () => {
      const client = await this.txPool.connect();
      // As the queue's own transactions do (executor.ts): a lost connection fails the statement,
      // and must not also be an uncaught exception.
      const onError = () => {};
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        const { rowCount } = await client.query('INSERT INTO chaos_orders (k) VALUES ($1) ON CONFLICT DO NOTHING', [key]);
        const [job] = await this.queue.enqueueMany([this.newJob(key)], { tx: client });
        await client.query('COMMIT');
        client.off('error', onError);
        client.release();
        // The order row answers for the transaction as the job's key does: a retry that finds
        // one and not the other would show a torn commit.
        if ((rowCount === 0) !== job!.deduplicated) throw new TornCommit(key);
        return [job!];
      } catch (error) {
        client.release(error as Error);
        throw error;
      }
    });
  }

  private async tick(): Promise<void> {
    await drainQueue(this.drainer, {
      types: ['TICK'],
      maxJobs: 50,
      budgetMs: 3_000,
      minTimeToClaimMs: 500,
      handler: async (job) => ({ tick: true, attempt: job.attempts }),
    }).catch(() => {});
  }

  /**
   * Calls `call` until it returns. A failure is an unknown outcome (the server may have
   * committed before the answer was lost): retried with the same keys, the answer's
   * `deduplicated` flags say which it was.
   */
  private async untilAcknowledged(kind: Kind, keys: string[], call: () => Promise<Job[]>): Promise<void> {
    let outcome: UnknownOutcome | undefined;
    for (let tries = 0; ; tries++) {
      try {
        const jobs = await call();
        jobs.forEach((job, i) => this.enqueued.set(keys[i]!, job.id));
        this.last.enqueue = Date.now();
        if (outcome) {
          const dedup = jobs.filter((j) => j.deduplicated).length;
          outcome.resolved = dedup === jobs.length ? 'committed' : dedup === 0 ? 'not committed' : 'split';
        }
        return;
      } catch (error) {
        if (error instanceof TornCommit) throw error;
        if (!outcome) this.unknown.push((outcome = { kind, keys, error: errorText(error) }));
        if (tries > 1_000) throw new Error(`enqueue of ${keys[0]} not acknowledged after ${tries} tries: ${errorText(error)}`, { cause: error });
        await sleep(50);
      }
    }
  }
}

class TornCommit extends Error {
  constructor(key: string) {
    super(`transaction ${key}: the order row and the job did not commit together`);
  }
}
