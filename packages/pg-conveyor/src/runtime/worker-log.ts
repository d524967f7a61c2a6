/**
 * What a worker logs, one line per event: a job that lost its claim while running (warn), a batch
 * whose jobs failed or were lost (warn), the LISTEN connection lost (warn, once a minute at most)
 * and back (info), and its own errors through FaultLog (a database going away: warn without a
 * stack; anything else: error with one). Starts, ends and releases are debug lines. A failed
 * attempt is logged by the queue (queue-log.ts), once, whoever ran it.
 */
import { enabled, FaultLog, jobFields, type Logger } from '../observability/log.js';
import type { Worker } from './worker.js';

export function logWorkerEvents(worker: Worker, logger: Logger): void {
  const faults = new FaultLog(logger);
  let listenLost = false;
  worker.on('error', (error) => faults.report('worker', error));
  worker.on('listen:error', (error) => {
    listenLost = true;
    faults.report('LISTEN connection lost; polling until it is back', error);
  });
  worker.on('listen:connected', () => {
    if (listenLost) logger.info({}, 'LISTEN connection back');
    listenLost = false;
  });
  worker.on('job:end', (job, outcome) => {
    if (outcome === 'lost') logger.warn(jobFields(job), 'job lost its claim while running (cancelled, or its lease expired); its outcome was not stored');
  });
  worker.on('batch:end', (jobs, outcome) => {
    if (outcome.failed > 0 || outcome.lost > 0) {
      logger.warn({ jobType: jobs[0]?.jobType, size: jobs.length, ...outcome }, 'batch finished with failed or lost jobs');
    }
  });
  if (!enabled(logger, 'debug')) return;
  worker.on('job:start', (job) => logger.debug(jobFields(job), 'job started'));
  worker.on('job:end', (job, outcome) => logger.debug({ ...jobFields(job), outcome }, 'job ended'));
  worker.on('batch:start', (jobs) => logger.debug({ jobType: jobs[0]?.jobType, size: jobs.length }, 'batch started'));
}
