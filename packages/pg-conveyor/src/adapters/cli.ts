/**
 * `npx conveyor <command>`: the queue from a terminal, against the database named by
 * DATABASE_URL (never one of its own: without it the CLI says what to set and stops).
 * Exit codes: 0 done, 1 refused or failed, 2 bad usage, 4 job not found.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DatabaseQueue } from '../core/database-queue.js';
import { InvalidJobStateError, JobNotFoundError, ValidationError } from '../core/errors.js';
import type { Job } from '../core/types.js';
import { migrate, migrationSql } from '../sql/migrate.js';
import { JOB_STATUSES, type JobStatus } from '../core/types.js';
import { RUN_STATUSES, Workflows, type WorkflowRunStatus } from '../workflows/workflows.js';

const USAGE = `usage: conveyor <command>   (DATABASE_URL names the database)
  migrate                               apply pg-conveyor's migrations (creates its tables)
  migrate --print-sql [--after NAME]    print them as SQL for your own migration tool (no database)
  stats                                 counts by status, oldest pending job
  status <jobId>                        one job, with its error history
  retry <jobId>                         FAILED or CANCELLED -> PENDING
  cancel <jobId>                        PENDING or PROCESSING -> CANCELLED
  cleanup [--days N]                    delete finished jobs older than N days (default 7)
  list [--status S] [--type T] [--limit N]
  flush --type T --yes                  delete every job of type T that is not running
  pause <type>                          no claim takes jobs of this type until resumed (running ones finish)
  resume <type>                         claims take it again; workers are woken
  paused                                the paused types
  schedules                             each schedule: cron, time zone, paused, last run and its job, next run
  runs [list] [--status S] [--name N] [--limit N]   workflow runs, newest first
  runs show <runId>                     a run and its steps
  runs cancel <runId>                   cancel a running run and its pending job
  runs retry <runId>                    run a FAILED run again from the step that failed
every command takes --json (one JSON document on standard output), --env-file PATH
(default: .env.local and .env here, for what the environment does not set); --help`;

class UsageError extends Error {}

const line = (job: Job, typeWidth = job.jobType.length) =>
  `${job.id}  ${job.jobType.padEnd(typeWidth)}  ${job.status.padEnd(10)}  ${`${job.attempts}/${job.maxAttempts}`.padStart(8)}  ${job.createdAt.toISOString()}`;

/** Jobs as aligned columns under a header. */
function table(jobs: Job[]): string[] {
  const typeWidth = Math.max(4, ...jobs.map((job) => job.jobType.length));
  const header = `${'id'.padEnd(36)}  ${'type'.padEnd(typeWidth)}  ${'status'.padEnd(10)}  ${'attempts'.padStart(8)}  created`;
  return [header, ...jobs.map((job) => line(job, typeWidth))];
}

const OPTIONS = {
  days: { type: 'string' },
  status: { type: 'string' },
  type: { type: 'string' },
  limit: { type: 'string' },
  yes: { type: 'boolean', default: false },
  'print-sql': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  after: { type: 'string' },
  name: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
  'env-file': { type: 'string' },
} as const;

/**
 * The variables of `--env-file PATH`, else of `.env.local` and `.env` in the current directory
 * (Next.js's files, .env.local winning), for what the environment does not set already: an app's
 * DATABASE_URL usually lives there, not in the shell.
 */
function loadEnvFiles(explicit: string | undefined): void {
  if (explicit !== undefined) {
    if (!existsSync(explicit)) throw new UsageError(`--env-file ${explicit}: no such file`);
    process.loadEnvFile(explicit);
    return;
  }
  for (const file of ['.env.local', '.env']) if (existsSync(file)) process.loadEnvFile(file);
}

export async function runCli(argv: string[], out: (text: string) => void = console.log): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS, strict: true });
  } catch (error) {
    out(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const { positionals, values } = parsed;
  const [command, arg, third] = positionals;
  // Text for people, or with --json one JSON document for scripts.
  const say = (text: string | string[], data: unknown) => out(values.json ? JSON.stringify(data) : [text].flat().join('\n'));
  if (values.help) {
    out(USAGE);
    return 0;
  }
  if (!command) {
    out(USAGE);
    return 2;
  }
  if (command === 'migrate' && values['print-sql']) {
    const sql = migrationSql({ after: values.after }).trimEnd();
    say(sql, { sql });
    return 0;
  }
  try {
    loadEnvFiles(values['env-file']);
  } catch (error) {
    const message = error instanceof UsageError ? error.message : `could not read the env file: ${(error as Error).message}`;
    say(`conveyor: ${message}`, { error: message });
    return 2;
  }
  const connectionString = process.env.DATABASE_URL;
  if (!connectionString) {
    const error =
      'DATABASE_URL is not set: point it at the Postgres that holds the queue, e.g. DATABASE_URL=postgres://user:password@localhost:5432/app npx conveyor stats';
    say(`conveyor: ${error}`, { error });
    return 2;
  }
  if (command === 'migrate') {
    const result = await migrate({ connectionString, log: values.json ? undefined : out });
    const upToDate = result.applied.length === 0 && result.adopted.length === 0;
    if (upToDate || values.json) say(`pg-conveyor's schema is up to date (${result.alreadyApplied.join(', ')})`, result);
    return 0;
  }
  const queue = new DatabaseQueue({ connectionString, poolMax: 1 });
  try {
    switch (command) {
      case 'stats': {
        const [stats, oldest] = await Promise.all([queue.getQueueStats(), queue.oldestPendingJob()]);
        const width = Math.max(...['pending', 'processing', 'completed', 'failed', 'cancelled'].map((key) => String(stats[key as 'pending']).length));
        say(
          [
            ...(['pending', 'processing', 'completed', 'failed', 'cancelled'] as const).map((key) => `${key.padEnd(11)} ${String(stats[key]).padStart(width)}`),
            `oldest pending: ${oldest ? `${oldest.id} (${oldest.ageMinutes} min)` : 'none'}${stats.estimated ? '\n(finished counts are estimates)' : ''}`,
          ],
          { ...stats, oldestPending: oldest },
        );
        return 0;
      }
      case 'status': {
        if (!arg) throw new UsageError('status needs a job id');
        const job = await queue.getJob(arg);
        if (!job) throw new JobNotFoundError(arg);
        say(
          [
            ...table([job]),
            ...(job.progress ? [`progress: ${job.progress.current}/${job.progress.total} ${job.progress.message}`] : []),
            ...(job.result !== null ? [`result: ${JSON.stringify(job.result)}`] : []),
            ...job.errors.map((e) => `error (attempt ${e.attempt}, ${e.at}): ${e.message}`),
          ],
          job,
        );
        return 0;
      }
      case 'retry':
      case 'cancel': {
        if (!arg) throw new UsageError(`${command} needs a job id`);
        const job = command === 'retry' ? await queue.retryJob(arg) : await queue.cancelJob(arg);
        say(`${command === 'retry' ? 'retried' : 'cancelled'}: ${line(job)}`, { [command === 'retry' ? 'retried' : 'cancelled']: job });
        return 0;
      }
      case 'cleanup': {
        const days = values.days === undefined ? 7 : Number(values.days);
        const deleted = await queue.cleanup(days);
        say(`deleted ${deleted} finished jobs older than ${days} days`, { deleted, olderThanDays: days });
        return 0;
      }
      case 'list': {
        const status = values.status?.toUpperCase();
        if (status && !JOB_STATUSES.includes(status as JobStatus)) throw new UsageError(`--status must be one of ${JOB_STATUSES.join(', ')}`);
        const jobs = await queue.listJobs({ status: status as JobStatus | undefined, jobType: values.type, limit: values.limit ? Number(values.limit) : 20 });
        say([...(jobs.length ? table(jobs) : []), `${jobs.length} job(s)`], { jobs });
        return 0;
      }
      case 'flush': {
        if (!values.type) throw new UsageError('flush needs --type');
        if (!values.yes) {
          const error = `refusing to flush ${values.type} without --yes: it deletes every ${values.type} job that is not running`;
          say(error, { error });
          return 1;
        }
        const deleted = await queue.flushType(values.type);
        say(`deleted ${deleted} ${values.type} job(s); running ones were left to finish`, { deleted, jobType: values.type });
        return 0;
      }
      case 'pause':
      case 'resume': {
        if (!arg) throw new UsageError(`${command} needs a job type`);
        const changed = command === 'pause' ? await queue.pauseType(arg, { by: 'cli' }) : await queue.resumeType(arg);
        const state = command === 'pause' ? 'paused' : 'resumed';
        say(changed ? `${arg} ${state}` : `${arg} was ${command === 'pause' ? 'paused already' : 'not paused'}`, { jobType: arg, [state]: true, changed });
        return 0;
      }
      case 'paused': {
        const paused = await queue.pausedTypes();
        say(
          [...paused.map((p) => `${p.jobType}  since ${p.pausedAt.toISOString()}${p.pausedBy ? ` by ${p.pausedBy}` : ''}`), `${paused.length} paused type(s)`],
          { paused },
        );
        return 0;
      }
      case 'schedules': {
        const schedules = await queue.schedules.list();
        const width = Math.max(4, ...schedules.map((s) => s.name.length));
        say(
          [
            ...schedules.map(
              (s) =>
                `${s.name.padEnd(width)}  ${s.cron}  ${s.timezone}  ${s.jobType}  ${s.paused ? 'PAUSED' : `next ${s.nextRunAt?.toISOString() ?? 'never'}`}  last ${s.lastRunAt?.toISOString() ?? 'never'}${s.lastJob ? ` (${s.lastJob.status})` : ''}`,
            ),
            `${schedules.length} schedule(s)`,
          ],
          { schedules },
        );
        return 0;
      }
      case 'runs':
        return await runsCommand(new Workflows(queue, []), arg ?? 'list', third, values, say);
      default:
        throw new UsageError(`unknown command: ${command}`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      say(`${error.message}\n${USAGE}`, { error: error.message });
      return 2;
    }
    if (error instanceof JobNotFoundError) {
      say(error.message, { error: error.message });
      return 4;
    }
    if (error instanceof ValidationError || error instanceof InvalidJobStateError) {
      say(error.message, { error: error.message, ...(error instanceof InvalidJobStateError ? { currentStatus: error.currentStatus } : {}) });
      return 1;
    }
    throw error;
  } finally {
    await queue.close();
  }
}

/** `conveyor runs list|show|cancel`: workflow runs (their definitions are not needed to read or cancel them). */
async function runsCommand(
  workflows: Workflows,
  sub: string,
  id: string | undefined,
  values: { status?: string; name?: string; limit?: string },
  say: (text: string | string[], data: unknown) => void,
): Promise<number> {
  const row = (r: { id: string; name: string; status: string; currentStep: string | null; createdAt: Date }, width: number) =>
    `${r.id}  ${r.name.padEnd(width)}  ${r.status.padEnd(9)}  ${r.createdAt.toISOString()}  ${r.currentStep ?? ''}`;
  switch (sub) {
    case 'list': {
      const status = values.status?.toUpperCase();
      if (status && !RUN_STATUSES.includes(status as WorkflowRunStatus)) throw new UsageError(`--status must be one of ${RUN_STATUSES.join(', ')}`);
      const runs = await workflows.listRuns({
        status: status as WorkflowRunStatus | undefined,
        name: values.name,
        limit: values.limit ? Number(values.limit) : 20,
      });
      const width = Math.max(8, ...runs.map((r) => r.name.length));
      const header = `${'id'.padEnd(36)}  ${'workflow'.padEnd(width)}  ${'status'.padEnd(9)}  ${'created'.padEnd(24)}  step`;
      say([...(runs.length ? [header, ...runs.map((r) => row(r, width))] : []), `${runs.length} run(s)`], { runs });
      return 0;
    }
    case 'show':
    case 'cancel':
    case 'retry': {
      if (!id) throw new UsageError(`runs ${sub} needs a run id`);
      const run = sub === 'show' ? await workflows.getRun(id) : sub === 'cancel' ? await workflows.cancelRun(id) : await workflows.retryRun(id);
      if (!run) {
        say(`Run ${id} not found`, { error: `Run ${id} not found` });
        return 4;
      }
      say(
        [
          row(run, run.name.length),
          ...run.steps.map(
            (s) =>
              `  ${String(s.seq + 1).padStart(3)}. ${s.kind.padEnd(5)} ${s.name}  (attempt ${s.attempt}, ${new Date(s.completedAt).toISOString()})${s.output === null || s.output === undefined ? '' : `  ${JSON.stringify(s.output).slice(0, 80)}`}`,
          ),
          ...(run.error ? [`error: ${run.error}`] : []),
          ...(run.status === 'COMPLETED' ? [`output: ${JSON.stringify(run.output)}`] : []),
        ],
        sub === 'show' ? run : { [sub === 'cancel' ? 'cancelled' : 'retried']: run },
      );
      return 0;
    }
    default:
      throw new UsageError(`unknown runs command: ${sub}`);
  }
}
