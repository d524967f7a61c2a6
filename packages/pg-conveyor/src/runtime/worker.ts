/**
 * The long-running worker: handlers by job type, each type with its own concurrency and timeout.
 *
 *   const worker = new Worker({ queue, connectionString, handlers: {
 *     SEND_EMAIL: { handler: sendEmail, concurrency: 5, timeoutMs: 30_000 },
 *   }});
 *   await worker.start();
 *   process.on('SIGTERM', () => worker.stop());
 *
 * Wake-ups: a LISTEN connection hears the NOTIFY each enqueue statement sends, so an idle worker
 * starts a new job within milliseconds; a poll every pollIntervalMs is the fallback (delayed jobs,
 * retries, missed notifications) and the only mode behind PgBouncer in transaction pooling, where
 * LISTEN does not work (`listen: false`, or a URL with pgbouncer=true).
 *
 * Leases: claims take `leaseMs`, and a heartbeat every leaseMs / 3 extends them for jobs still
 * running or prefetched, so long jobs are not rescued from a live worker; a job whose claim was
 * taken away (cancelled, or rescued after a stall) has its handler aborted.
 *
 * Prefetch (`prefetch: n` on a task): each claim also takes up to n jobs beyond the hungry slots
 * into a local buffer, in claim order, so a slot that finishes a job starts the next without a
 * round trip. Buffered jobs are claimed (PROCESSING, leased, fenced) like running ones; stop()
 * hands them back untouched, and a crash leaves them to lease rescue. The price: a job enqueued
 * with a higher priority waits behind at most n buffered ones.
 *
 * Batches (`batch: { size, handler }` instead of `handler`): a slot takes up to `size` jobs and
 * gives them to one handler call (run-batch.ts). Slots hungry at the same time share one claim
 * statement, as per-job slots do (cut into batches in claim order), and batches that finish
 * together share one completion statement (finish.ts): ten slots contending with ten claims of
 * their own cost Postgres two to three times the CPU per job on the durable benchmark.
 *
 * stop(): no new claims; running jobs get `shutdownTimeoutMs` (30 s) to finish; the rest are
 * aborted and released for immediate re-claim (their attempt not counted); connections close.
 *
 * @module pg-conveyor/worker
 */
import { EventEmitter } from 'node:events';
import pg from 'pg';
import { Batcher } from '../core/batcher.js';
import { JobTakenAwayError, ValidationError } from '../core/errors.js';
import type { JobQueue } from '../core/queue-api.js';
import { resolveLogger, type Logger } from '../observability/log.js';
import { JOBS_CHANNEL } from '../sql/jobs-insert.js';
import { DEFAULTS } from '../core/config.js';
import { isBehindPgBouncer } from '../core/connection.js';
import { runBatch } from './run-batch.js';
import { runJob, type JobHandler } from './run-job.js';
import type { Job } from '../core/types.js';
import { logWorkerEvents } from './worker-log.js';
import type { TaskDefinition, WorkerEvents, WorkerOptions } from './worker-types.js';
import { parseTaskDefinition, parseWorkerOptions, type ParsedWorkerOptions, type TaskRun } from './worker-options.js';

export type { BatchTaskDefinition, HandlerRegistry, JobTaskDefinition, TaskDefinition, WorkerEvents, WorkerOptions } from './worker-types.js';

interface Task {
  type: string;
  run: TaskRun;
  concurrency: number;
  timeoutMs: number;
  prefetch: number;
  /** Prefetched jobs, in claim order, waiting for a free slot. */
  buffer: Job[];
  running: Map<string, Job>;
  /** Slots asleep until a NOTIFY, a poll or stop(). */
  idle: (() => void)[];
  /** Hungry slots' claims, batched: one statement serves every slot waiting when it is sent (per-job tasks). */
  claims: Batcher<void, ClaimAnswer>;
  /** Bumped by every wake, so a slot whose empty claim raced a NOTIFY claims again instead of sleeping. */
  wakes: number;
}

/**
 * What a hungry slot gets: a job (with the whole batch, for a batch task), or none with the wake
 * count from before the claim was sent.
 */
type ClaimAnswer = { job: Job; jobs?: Job[] } | { job: null; wakesBefore: number };

/**
 * Claims in flight per type at once. Each claims a job for every slot waiting when it is sent, so
 * under load one statement serves several slots (fewer round trips than a claim per job), and a
 * NOTIFY that wakes ten idle slots for one job sends one claim, not ten.
 */
const CLAIMS_IN_FLIGHT = 2;

/** How often a worker notes the types it handles (the note is written at most every 30 s anyway). */
const HANDLED_NOTE_MS = 30_000;

export class Worker extends EventEmitter<WorkerEvents> {
  private readonly queue: JobQueue;
  private readonly tasks: Task[];
  private readonly options: ParsedWorkerOptions;
  private readonly listenUrl: string | null;
  private readonly stopController = new AbortController();
  private slots: Promise<void>[] = [];
  private listener: pg.Client | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private handledTimer: NodeJS.Timeout | null = null;
  /** Per running (non-batch) job: aborted when the heartbeat finds its claim taken away. */
  private readonly lostControllers = new Map<string, AbortController>();
  private reconnectTimer: NodeJS.Timeout | null = null;
  private state: 'idle' | 'starting' | 'running' | 'stopping' | 'stopped' = 'idle';
  /** The first stop()'s promise, which every later call answers. */
  private stopped: Promise<void> | undefined;
  private readonly logger: Logger;

  constructor(options: WorkerOptions) {
    super();
    this.options = parseWorkerOptions(options);
    this.queue = options.queue;
    this.tasks = Object.entries(options.handlers).map(([type, definition]) => this.makeTask(type, definition));
    if (this.tasks.length === 0) throw new ValidationError('Worker needs at least one handler');
    const pooled = isBehindPgBouncer(options.connectionString);
    this.listenUrl = options.listen === false || pooled || !options.connectionString ? null : options.connectionString;
    this.logger = resolveLogger(options.logger, () => this.queue.logger);
    logWorkerEvents(this, this.logger);
  }

  private makeTask(type: string, definition: TaskDefinition | JobHandler): Task {
    const { run, concurrency, timeoutMs, prefetch, batchSize } = parseTaskDefinition(type, definition);
    const task: Task = {
      type,
      concurrency,
      timeoutMs,
      prefetch,
      buffer: [],
      running: new Map(),
      idle: [],
      wakes: 0,
      run,
      // No more slots per claim than one claim can fill: a slot left with nothing from a claim cut
      // short would sleep until the next poll while jobs wait.
      claims: new Batcher((slots) => this.claimFor(task, slots.length), {
        maxInFlight: CLAIMS_IN_FLIGHT,
        maxBatch: Math.max(1, Math.min(concurrency, Math.floor(DEFAULTS.claimBatchMax / (batchSize ?? 1)))),
      }),
    };
    return task;
  }

  /** Jobs running now, by type. */
  get running(): Record<string, number> {
    return Object.fromEntries(this.tasks.map((t) => [t.type, t.running.size]));
  }

  get listening(): boolean {
    return this.listener !== null;
  }

  /**
   * Checks the database (reachable, migrated: queue.checkDatabase) and starts polling and
   * listening. Rejects with what to do instead of reporting started against a database it
   * cannot use.
   */
  async start(): Promise<void> {
    if (this.state !== 'idle') throw new Error(`Worker is ${this.state}`);
    this.state = 'starting';
    try {
      await this.queue.checkDatabase();
    } catch (error) {
      if (!this.stopped) this.state = 'idle'; // a stop() meanwhile has already made it stopped
      throw error;
    }
    if (this.stopped) return; // stop() came while the check ran
    this.state = 'running';
    if (this.listenUrl) await this.connectListener();
    this.pollTimer = setInterval(() => {
      this.wake();
      void this.fireSchedules();
    }, this.options.pollIntervalMs);
    void this.fireSchedules();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), Math.max(250, Math.floor(this.options.leaseMs / 3)));
    this.noteHandledTypes();
    this.handledTimer = setInterval(() => this.noteHandledTypes(), HANDLED_NOTE_MS);
    this.slots = this.tasks.flatMap((task) => Array.from({ length: task.concurrency }, () => this.slot(task)));
    const types = Object.fromEntries(this.tasks.map((t) => [t.type, t.concurrency]));
    this.logger.info({ workerId: this.queue.workerId, concurrency: types, listening: this.listening }, 'worker started');
  }

  /** Wakes idle slots (of these types): called on NOTIFY and on each poll. */
  wake(types?: string[]): void {
    for (const task of this.tasks) {
      if (types && !types.includes(task.type)) continue;
      task.wakes++;
      const waiters = task.idle.splice(0);
      waiters.forEach((resolve) => resolve());
    }
  }

  /**
   * One slot: take a job, run it, take the next; when there is none, sleep until a NOTIFY, the
   * next poll or stop(). `concurrency` slots per type run side by side.
   */
  private async slot(task: Task): Promise<void> {
    while (this.state === 'running') {
      const answer: ClaimAnswer = task.buffer.length > 0 ? takeFrom(task.buffer, perSlot(task)) : await task.claims.call();
      if (!answer.job) {
        if (this.state === 'running' && task.wakes === answer.wakesBefore) {
          const woken = new Promise<void>((resolve) => task.idle.push(resolve));
          this.emit('idle', task.type);
          await woken;
        }
        continue;
      }
      const jobs = answer.jobs ?? [answer.job];
      if (this.state !== 'running') {
        // stop() came while this claim was in flight: hand the jobs straight back.
        await Promise.all(jobs.map((job) => this.queue.releaseJob(job).catch((error: Error) => this.emit('error', error))));
        break;
      }
      for (const job of jobs) task.running.set(job.id, job);
      try {
        await this.run(task, jobs);
      } catch (error) {
        this.emit('error', error as Error);
      } finally {
        for (const job of jobs) task.running.delete(job.id);
      }
    }
  }

  private async run(task: Task, jobs: Job[]): Promise<void> {
    // An outcome is sent again through a lost connection for as long as the lease would hold the job.
    const options = { timeoutMs: task.timeoutMs, graceMs: this.options.graceMs, stop: this.stopController.signal, resendForMs: this.options.leaseMs };
    if ('batchHandler' in task.run) {
      this.emit('batch:start', jobs);
      this.emit('batch:end', jobs, await runBatch(this.queue, jobs, task.run.batchHandler, options));
      return;
    }
    const job = jobs[0]!;
    const lost = new AbortController();
    this.lostControllers.set(job.id, lost);
    this.emit('job:start', job);
    try {
      this.emit('job:end', job, await runJob(this.queue, job, task.run.handler, { ...options, lost: lost.signal }));
    } finally {
      this.lostControllers.delete(job.id);
    }
  }

  /**
   * Claims for the slots waiting now, one answer each: a job (a batch task's slot gets up to its
   * size), or none with the wake count from before the claim was sent. A task with prefetch also
   * claims enough to fill its buffer.
   */
  private async claimFor(task: Task, waiting: number): Promise<ClaimAnswer[]> {
    const wakesBefore = task.wakes;
    const ahead = Math.max(0, task.prefetch - task.buffer.length);
    let jobs: Job[] = [];
    if (this.state === 'running') {
      try {
        const wanted = Math.min(waiting * perSlot(task) + ahead, DEFAULTS.claimBatchMax);
        jobs = await this.queue.claimJobs([task.type], wanted, { leaseMs: this.options.leaseMs });
      } catch (error) {
        this.emit('error', error as Error);
      }
    }
    const answers = Array.from({ length: waiting }, (): ClaimAnswer => (jobs.length > 0 ? takeFrom(jobs, perSlot(task)) : { job: null, wakesBefore }));
    task.buffer.push(...jobs); // what the slots did not take: claimed ahead, in claim order
    return answers;
  }

  private lastScheduleFire = 0;

  /** Recurring jobs: at most once a second per worker; each slot still makes only one job. */
  private async fireSchedules(): Promise<void> {
    if (Date.now() - this.lastScheduleFire < 1_000) return;
    this.lastScheduleFire = Date.now();
    try {
      await this.queue.schedules.fireDue();
    } catch (error) {
      this.emit('error', error as Error);
    }
  }

  /**
   * Keeps the leases of running jobs alive. A running job missing from the answer was taken away
   * (cancelled, or rescued after a stall): its handler's signal is aborted, and the runner's
   * fencing keeps out whatever it still does.
   */
  /** Tells the console which types this worker handles (see JobQueue.noteHandledTypes). */
  private noteHandledTypes(): void {
    this.queue.noteHandledTypes(this.tasks.map((t) => t.type)).catch((error: Error) => this.emit('error', error));
  }

  private async heartbeat(): Promise<void> {
    const held = this.tasks.flatMap((t) => [...t.running.values(), ...t.buffer]);
    if (held.length === 0) return;
    try {
      const kept = await this.queue.extendLeases(held, this.options.leaseMs);
      // A prefetched job taken away meanwhile (cancelled, rescued) is dropped before it runs;
      // only jobs this heartbeat asked about are judged (others joined the buffer since).
      const asked = new Set(held.map((job) => job.id));
      for (const task of this.tasks) task.buffer = task.buffer.filter((job) => !asked.has(job.id) || kept.has(job.id));
      for (const [id, controller] of this.lostControllers) {
        if (asked.has(id) && !kept.has(id)) controller.abort(new JobTakenAwayError(id));
      }
      this.emit('heartbeat', { held: held.length, kept: kept.size });
    } catch (error) {
      this.emit('error', error as Error);
    }
  }

  private async connectListener(): Promise<void> {
    const client = new pg.Client({ connectionString: this.listenUrl! });
    client.on('notification', (message) => {
      if (message.channel === JOBS_CHANNEL) this.wake(message.payload ? message.payload.split(',') : undefined);
    });
    client.on('error', (error) => {
      this.emit('listen:error', error);
      this.dropListener(client);
    });
    client.on('end', () => this.dropListener(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${JOBS_CHANNEL}`);
      this.listener = client;
      this.emit('listen:connected');
      this.wake(); // anything enqueued while we were not listening
    } catch (error) {
      this.emit('listen:error', error as Error);
      this.dropListener(client);
    }
  }

  /** A lost LISTEN connection: keep polling, and reconnect after a second. */
  private dropListener(client: pg.Client): void {
    if (this.listener === client) this.listener = null;
    client.removeAllListeners('notification');
    client.end().catch(() => {});
    if (this.state === 'running' && !this.reconnectTimer) {
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = null;
        if (this.state === 'running' && !this.listener) void this.connectListener();
      }, 1_000);
    }
  }

  /**
   * Graceful stop; resolves when every job is finished or released and connections are closed.
   * Every call answers the same promise: a second Ctrl-C waits for the first one's drain.
   */
  stop(): Promise<void> {
    this.stopped ??= this.stopOnce();
    return this.stopped;
  }

  private async stopOnce(): Promise<void> {
    if (this.state === 'idle' || this.state === 'starting') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopping';
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const listener = this.listener;
    this.listener = null;
    await listener?.end().catch(() => {});
    this.wake(); // idle slots see the state and return
    const allDone = Promise.all(this.slots);
    const timedOut = await Promise.race([
      allDone.then(() => false),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(true), this.options.shutdownTimeoutMs).unref()),
    ]);
    if (timedOut) {
      // Still running: abort them; runJob releases each one for immediate re-claim.
      this.stopController.abort(new Error('worker shutting down'));
      await allDone;
    }
    // Prefetched jobs nobody started: back to PENDING at once, their attempt not counted.
    const buffered = this.tasks.flatMap((t) => t.buffer.splice(0));
    await Promise.all(buffered.map((job) => this.queue.releaseJob(job).catch((error: Error) => this.emit('error', error))));
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.handledTimer) clearInterval(this.handledTimer);
    this.state = 'stopped';
    this.logger.info({ workerId: this.queue.workerId, released: buffered.length, timedOut }, 'worker stopped');
  }
}

/** Jobs one slot takes at a time: its batch size, or one. */
function perSlot(task: Task): number {
  return 'batchSize' in task.run ? task.run.batchSize : 1;
}

/** A slot's share from the front of `jobs` (a claim's answer, or the prefetch buffer), removed from it. */
function takeFrom(jobs: Job[], count: number): ClaimAnswer {
  const taken = jobs.splice(0, count);
  return count === 1 ? { job: taken[0]! } : { job: taken[0]!, jobs: taken };
}
