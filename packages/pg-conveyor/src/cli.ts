/**
 * `npx conveyor <command>`: the queue from a terminal, against the database named by
 * DATABASE_URL (never one of its own: without it the CLI says what to set and stops).
 * Exit codes: 0 done, 1 refused or failed, 2 bad usage, 4 job not found.
 */
import { parseArgs } from 'node:util';
import { DatabaseQueue, InvalidJobStateError, JobNotFoundError, ValidationError, type Job } from './db-queue.js';
import { migrate, migrationSql } from './migrate.js';
import { JOB_STATUSES, type JobStatus } from './types.js';

const USAGE = `usage: conveyor <command>   (DATABASE_URL names the database)
  migrate                               apply pg-conveyor's migrations (creates its tables)
  migrate --print-sql [--after NAME]    print them as SQL for your own migration tool (no database)
  stats                                 counts by status, oldest pending job
  status <jobId>                        one job, with its error history
  retry <jobId>                         FAILED or CANCELLED -> PENDING
  cancel <jobId>                        PENDING or PROCESSING -> CANCELLED
  cleanup [--days N]                    delete finished jobs older than N days (default 7)
  list [--status S] [--type T] [--limit N]
  flush --type T --yes                  delete every job of type T that is not running`;

class UsageError extends Error {}

const line = (job: Job) =>
  `${job.id}  ${job.jobType.padEnd(16)} ${job.status.padEnd(10)} attempts ${job.attempts}/${job.maxAttempts}  created ${job.createdAt.toISOString()}`;

export async function runCli(argv: string[], out: (text: string) => void = console.log): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      days: { type: 'string' },
      status: { type: 'string' },
      type: { type: 'string' },
      limit: { type: 'string' },
      yes: { type: 'boolean', default: false },
      'print-sql': { type: 'boolean', default: false },
      after: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  const [command, arg] = positionals;
  if (values.help) {
    out(USAGE);
    return 0;
  }
  if (!command) {
    out(USAGE);
    return 2;
  }
  if (command === 'migrate' && values['print-sql']) {
    out(migrationSql({ after: values.after }).trimEnd());
    return 0;
  }
  const connectionString = process.env.DATABASE_URL;
  if (!connectionString) {
    out('conveyor: DATABASE_URL is not set: point it at the Postgres that holds the queue, e.g. DATABASE_URL=postgres://user:password@localhost:5432/app npx conveyor stats');
    return 2;
  }
  if (command === 'migrate') {
    const result = await migrate({ connectionString, log: out });
    if (result.applied.length === 0 && result.adopted.length === 0) out(`pg-conveyor's schema is up to date (${result.alreadyApplied.join(', ')})`);
    return 0;
  }
  const queue = new DatabaseQueue({ connectionString, poolMax: 1 });
  try {
    switch (command) {
      case 'stats': {
        const [stats, oldest] = await Promise.all([queue.getQueueStats(), queue.oldestPendingJob()]);
        for (const key of ['pending', 'processing', 'completed', 'failed', 'cancelled'] as const) out(`${key.padEnd(11)} ${stats[key]}`);
        out(`oldest pending: ${oldest ? `${oldest.id} (${oldest.ageMinutes} min)` : 'none'}${stats.estimated ? '\n(finished counts are estimates)' : ''}`);
        return 0;
      }
      case 'status': {
        if (!arg) throw new UsageError('status needs a job id');
        const job = await queue.getJob(arg);
        if (!job) throw new JobNotFoundError(arg);
        out(line(job));
        if (job.progress) out(`progress: ${job.progress.current}/${job.progress.total} ${job.progress.message}`);
        if (job.result !== null) out(`result: ${JSON.stringify(job.result)}`);
        for (const e of job.errors) out(`error (attempt ${e.attempt}, ${e.at}): ${e.message}`);
        return 0;
      }
      case 'retry':
      case 'cancel': {
        if (!arg) throw new UsageError(`${command} needs a job id`);
        const job = command === 'retry' ? await queue.retryJob(arg) : await queue.cancelJob(arg);
        out(`${command === 'retry' ? 'retried' : 'cancelled'}: ${line(job)}`);
        return 0;
      }
      case 'cleanup': {
        const days = values.days === undefined ? 7 : Number(values.days);
        out(`deleted ${await queue.cleanup(days)} finished jobs older than ${days} days`);
        return 0;
      }
      case 'list': {
        const status = values.status?.toUpperCase();
        if (status && !JOB_STATUSES.includes(status as JobStatus)) throw new UsageError(`--status must be one of ${JOB_STATUSES.join(', ')}`);
        const jobs = await queue.listJobs({ status: status as JobStatus | undefined, jobType: values.type, limit: values.limit ? Number(values.limit) : 20 });
        jobs.forEach((job) => out(line(job)));
        out(`${jobs.length} job(s)`);
        return 0;
      }
      case 'flush': {
        if (!values.type) throw new UsageError('flush needs --type');
        if (!values.yes) {
          out(`refusing to flush ${values.type} without --yes: it deletes every ${values.type} job that is not running`);
          return 1;
        }
        out(`deleted ${await queue.flushType(values.type)} ${values.type} job(s); running ones were left to finish`);
        return 0;
      }
      default:
        throw new UsageError(`unknown command: ${command}`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      out(`${error.message}\n${USAGE}`);
      return 2;
    }
    if (error instanceof JobNotFoundError) {
      out(error.message);
      return 4;
    }
    if (error instanceof ValidationError || error instanceof InvalidJobStateError) {
      out(error.message);
      return 1;
    }
    throw error;
  } finally {
    await queue.close();
  }
}
