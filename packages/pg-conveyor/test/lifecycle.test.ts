/**
 * Starting and stopping as a user meets them: a Worker that cannot use its database says why and
 * what to do before it reports started; a second stop() waits for the first; a bad connection
 * string is refused at construction; keepPayload keeps what a finished job was asked to do.
 */
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { ConfigError, DatabaseQueue, queueMigrations, ValidationError } from 'pg-conveyor';
import { Worker } from 'pg-conveyor/worker';
import { withDatabase } from './setup/template-db';
import { useQueue } from './helpers/queue';
import { until } from './helpers/wait';

const t = useQueue({ reset: true });

/** An empty database (no Conveyor tables), dropped after `use`. */
async function withEmptyDatabase(use: (url: string) => Promise<void>): Promise<void> {
  const adminUrl = inject('adminUrl');
  const name = `conveyor_empty_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
    await use(withDatabase(adminUrl, name));
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

const workerOn = (queue: DatabaseQueue) => new Worker({ queue, handlers: { A: async () => {} }, logger: false, listen: false });

describe('Worker.start()', () => {
  it('against a database never migrated: rejects, saying to run `npx conveyor migrate`, and logs no start', async () => {
    await withEmptyDatabase(async (url) => {
      const queue = new DatabaseQueue({ connectionString: url, poolMax: 1, logger: false });
      const worker = workerOn(queue);
      await expect(worker.start()).rejects.toThrow(ConfigError);
      await expect(worker.start()).rejects.toThrow(/no Conveyor tables: run `npx conveyor migrate`/);
      expect(worker.running).toEqual({ A: 0 });
      await worker.stop();
      await queue.close();
    });
  });

  it('against a database behind this version: names the missing migrations', async () => {
    const last = queueMigrations().at(-1)!;
    await t.db.current.pool.query('DELETE FROM conveyor_migrations WHERE name = $1', [last.name]);
    try {
      await expect(workerOn(t.queue).start()).rejects.toThrow(new RegExp(`1 migration\\(s\\) not applied: ${last.name}\\): run \`npx conveyor migrate\``));
    } finally {
      await t.db.current.pool.query('INSERT INTO conveyor_migrations (name, checksum) VALUES ($1, $2)', [last.name, last.checksum]);
    }
  });

  it('against a port nobody listens on: says the connection was refused and what to check', async () => {
    const queue = new DatabaseQueue({ connectionString: 'postgresql://app:secret@127.0.0.1:1/app', poolMax: 1, logger: false });
    const error = await workerOn(queue)
      .start()
      .then(
        () => null,
        (e: Error) => e,
      );
    await queue.close();
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.message).toBe(
      'Cannot connect to PostgreSQL at 127.0.0.1:1 (connection refused): is the server running, and are the host and port in the connection string right?',
    );
    expect(error!.message).not.toContain('secret');
  });

  it('against a database that does not exist: says to create it', async () => {
    const queue = new DatabaseQueue({ connectionString: withDatabase(inject('adminUrl'), 'conveyor_no_such_db'), poolMax: 1, logger: false });
    await expect(queue.checkDatabase()).rejects.toThrow(/database "conveyor_no_such_db" does not exist: create it/);
    await queue.close();
  });

  it('against a migrated database: starts', async () => {
    const worker = workerOn(t.queue);
    await worker.start();
    await worker.stop();
  });
});

describe('Worker.stop()', () => {
  it('called twice answers the same promise: the second waits for the running job too', async () => {
    let finish: () => void = () => {};
    const job = await t.queue.enqueue({ jobType: 'SLOW' });
    const worker = new Worker({
      queue: t.queue,
      logger: false,
      handlers: { SLOW: () => new Promise<void>((resolve) => (finish = resolve)) },
    });
    await worker.start();
    await until(() => worker.running.SLOW === 1);
    const first = worker.stop();
    const second = worker.stop();
    expect(second).toBe(first);
    let settled = false;
    void second.then(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(settled).toBe(false);
    finish();
    await second;
    expect((await t.queue.getJob(job.id))!.status).toBe('COMPLETED');
  });
});

describe('connection strings', () => {
  it('one that is not a URL is refused at construction, naming it; a password in one is never shown', () => {
    expect(() => new DatabaseQueue({ connectionString: 'notaurl' })).toThrow(ValidationError);
    expect(() => new DatabaseQueue({ connectionString: 'notaurl' })).toThrow(
      /connectionString: must be a postgres:\/\/ or postgresql:\/\/ URL.*\(got "notaurl"\)/,
    );
    expect(() => new DatabaseQueue({ connectionString: 'http://app:hunter2@db/app' })).toThrow(/\(got "http:\/\/app:\*\*\*@db\/app"\)/);
    for (const ok of ['postgres://u@h/d', 'postgresql://h/d', 'host=/tmp dbname=app', '/var/run/postgresql app']) {
      expect(() => new DatabaseQueue({ connectionString: ok }), ok).not.toThrow();
    }
  });
});

describe('keepPayload', () => {
  it('keeps a completed job’s payload (single, batched and with follow-ups); by default it is cleared', async () => {
    const keeping = t.makeQueue({ keepPayload: true });
    for (const [queue, kept] of [
      [keeping, true],
      [t.queue, false],
    ] as const) {
      await queue.enqueueMany([1, 2, 3].map((n) => ({ jobType: 'AUDIT', payload: { n } })));
      const [a, b, c] = await queue.claimJobs(['AUDIT'], 3);
      // The three completion statements: by bare id, batched (claimed jobs), with follow-ups.
      const completed = [await queue.completeJob(a!.id, 'one'), ...(await queue.completeJobs([b!], ['two']))];
      await queue.completeJob(c!, 'three', { enqueue: [{ jobType: 'NEXT' }] });
      const rows = await t.db.current.pool.query<{ payload: unknown }>(`SELECT payload FROM job_queue WHERE job_type = 'AUDIT' ORDER BY payload->>'n'`);
      const expected = kept ? [{ n: 1 }, { n: 2 }, { n: 3 }] : [null, null, null];
      expect(rows.rows.map((r) => r.payload)).toEqual(expected);
      expect(completed.map((job) => ('payload' in job ? job.payload : job))).toEqual(expected.slice(0, 2));
      await t.reset();
    }
  });
});
