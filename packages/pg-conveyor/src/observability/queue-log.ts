/**
 * What the queue logs of its own events, one line each: a failed attempt (warn, with the error
 * text and whether it will be retried; error level when the job has failed for good), jobs a
 * lease rescue took back (warn), cancellations, retries and cleanups (info), completions,
 * enqueues and releases (debug), and connection faults of the pool (FaultLog). The worker and
 * the cron route add their own (worker-log.ts, next.ts).
 */
import type { QueueEventEmitter } from '../core/events.js';
import { enabled, FaultLog, jobFields, type Logger } from './log.js';

export function logQueueEvents(events: QueueEventEmitter, logger: Logger): void {
  const faults = new FaultLog(logger);
  events.on('job:failed', (job, { willRetry, error }) => {
    const fields = { ...jobFields(job), maxAttempts: job.maxAttempts, error };
    if (willRetry) logger.warn({ ...fields, retryAt: job.runAt.toISOString() }, 'job attempt failed; will retry');
    else logger.error(fields, 'job failed');
  });
  events.on('job:rescued', (jobs) => {
    for (const job of jobs) logger.warn({ ...jobFields(job), status: job.status }, 'lease expired: job taken back from a stalled worker');
  });
  events.on('job:cancelled', (job) => logger.info(jobFields(job), 'job cancelled'));
  events.on('job:retried', (job) => logger.info(jobFields(job), 'job retried'));
  events.on('maintenance:cleanup', (info) => logger.info(info, 'finished jobs deleted'));
  events.on('schedules:fired', ({ enqueued }) => {
    for (const job of enqueued) logger.info({ jobId: job.id, jobType: job.jobType, uniqueKey: job.uniqueKey }, 'recurring job enqueued');
  });
  events.on('pool:error', (error) => faults.report('idle database connection lost', error));
  if (!enabled(logger, 'debug')) return;
  events.on('job:completed', (job) => logger.debug(jobFields(job), 'job completed'));
  events.on('job:released', (job) => logger.debug(jobFields(job), 'job released'));
  events.on('job:enqueued', (jobs) =>
    logger.debug({ count: jobs.length, jobIds: jobs.slice(0, 10).map((j) => j.id), jobTypes: [...new Set(jobs.map((j) => j.jobType))] }, 'jobs enqueued'),
  );
}
