import { describe, expect, it } from 'vitest';
import pg from 'pg';
import {
  DatabaseQueue,
  DEFAULT_BACKOFF,
  DEFAULTS,
  DRAIN_DEFAULTS,
  drainQueue,
  queuePoolConfig,
  retryDelayMs,
  SUBPROCESS_DEFAULTS,
  ValidationError,
  ConfigError,
  WORKER_DEFAULTS,
} from 'pg-conveyor';
import { Worker } from 'pg-conveyor/worker';
import { subprocessHandler } from 'pg-conveyor/subprocess';
import { useTestDatabase } from './helpers/db';

const db = useTestDatabase();

describe('documented defaults', () => {
  it('match the API reference', () => {
    expect(DEFAULTS.maxAttempts).toBe(3);
    expect(DEFAULTS.cleanupOlderThanDays).toBe(7);
    expect(DEFAULTS.maxErrorLength).toBe(1_000);
    expect(DEFAULTS.listLimitMax).toBe(100);
    expect(DEFAULT_BACKOFF).toEqual({ baseMs: 10_000, factor: 2, maxMs: 3_600_000, jitter: 0.1 });
    expect(WORKER_DEFAULTS).toEqual({ concurrency: 1, timeoutMs: 300_000, pollIntervalMs: 1_000, shutdownTimeoutMs: 30_000, graceMs: 2_000, leaseMs: 60_000 });
    expect(DRAIN_DEFAULTS).toEqual({
      budgetMs: 50_000,
      minTimeToClaimMs: 1_000,
      graceMs: 2_000,
      waitForTimers: true,
      idlePollMs: 1_000,
      backlogCheckMs: 1_000,
    });
    expect(SUBPROCESS_DEFAULTS).toEqual({ timeoutMs: 300_000, maxBufferBytes: 1_048_576, killGraceMs: 2_000 });
  });

  it('backoff: 10 s, 20 s, 40 s … capped at 1 h, jitter within ±10 %', () => {
    const none = () => 0.5;
    expect([1, 2, 3, 4].map((a) => retryDelayMs(a, DEFAULT_BACKOFF, none))).toEqual([10_000, 20_000, 40_000, 80_000]);
    expect(retryDelayMs(30, DEFAULT_BACKOFF, none)).toBe(3_600_000);
    expect(retryDelayMs(1, DEFAULT_BACKOFF, () => 0)).toBe(9_000);
    expect(retryDelayMs(1, DEFAULT_BACKOFF, () => 0.999999)).toBe(11_000);
  });

  it('options are validated at construction, naming the bad field', () => {
    expect(() => new DatabaseQueue({ connectionString: 'postgres://x/y', leaseMs: 5 })).toThrow(ValidationError);
    expect(() => new DatabaseQueue({ connectionString: 'postgres://x/y', leaseMs: 5 })).toThrow(/leaseMs/);
    expect(() => new DatabaseQueue({})).toThrow(ConfigError);
  });

  it('an invalid option names its field and the value given, for the queue, the worker, a task, a drain and a subprocess handler', async () => {
    expect(() => new DatabaseQueue({ connectionString: 'postgres://x/y', poolMax: 0 })).toThrow(/poolMax: .* \(got 0\)/);
    const queue = new DatabaseQueue({ connectionString: db.current.url, logger: false });
    try {
      expect(() => new Worker({ queue, handlers: { A: async () => {} }, pollIntervalMs: 5 })).toThrow(/Invalid Worker options: pollIntervalMs: .* \(got 5\)/);
      expect(() => new Worker({ queue, handlers: { A: { handler: async () => {}, concurrency: 'ten' as never } } })).toThrow(/concurrency: .* \(got "ten"\)/);
      await expect(drainQueue(queue, { types: ['A'], handler: async () => {}, budgetMs: -1 })).rejects.toThrow(/budgetMs: .* \(got -1\)/);
      expect(() => subprocessHandler({ command: 'python3', timeoutMs: 0 })).toThrow(/Invalid subprocessHandler options: timeoutMs: .* \(got 0\)/);
      expect(() => subprocessHandler({ command: 'python3', inheritEnv: ['DATABASE URL'] })).toThrow(
        /inheritEnv\.0: must be an environment variable name \(got "DATABASE URL"\)/,
      );
      expect(() => subprocessHandler({ command: '' })).toThrow(ValidationError);
    } finally {
      await queue.close();
    }
  });
});

describe('close()', () => {
  it('may be called twice: the second waits for the first, and neither throws', async () => {
    const queue = new DatabaseQueue({ connectionString: db.current.url, poolMax: 1, logger: false });
    await queue.enqueue({ jobType: 'CLOSE' });
    await Promise.all([queue.close(), queue.close()]);
    await expect(queue.close()).resolves.toBeUndefined();
  });
});

describe('queuePoolConfig: a pool shared with the app, set up as the queue sets up its own', () => {
  it('bounds every statement and plans prepared statements generically', async () => {
    const { config, preparedStatements } = queuePoolConfig(db.current.url, { max: 2 });
    expect(preparedStatements).toBe(true);
    expect(config.max).toBe(2);
    const pool = new pg.Pool(config);
    try {
      const show = async (setting: string) => (await pool.query(`SHOW ${setting}`)).rows[0][setting];
      expect(await show('statement_timeout')).toBe('1min');
      expect(await show('lock_timeout')).toBe('5s');
      expect(await show('plan_cache_mode')).toBe('force_generic_plan');
    } finally {
      await pool.end();
    }
  });

  it('behind PgBouncer (pgbouncer=true): no startup settings, no prepared statements, and the marker off the URL', () => {
    const { config, preparedStatements } = queuePoolConfig('postgres://u@host:6432/db?pgbouncer=true&sslmode=require');
    expect(preparedStatements).toBe(false);
    expect(config.options).toBeUndefined();
    expect(config.connectionString).toBe('postgres://u@host:6432/db?sslmode=require');
  });
});
