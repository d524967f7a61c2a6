import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF, retryDelayMs, retryDelayTable } from '../../packages/pg-conveyor/src/core/backoff';
import { DEFAULTS } from '../../packages/pg-conveyor/src/core/config';
import { DatabaseQueue, ValidationError, ConfigError } from 'pg-conveyor';

describe('documented defaults', () => {
  it('match the API reference', () => {
    expect(DEFAULTS.maxAttempts).toBe(3);
    expect(DEFAULTS.cleanupOlderThanDays).toBe(7);
    expect(DEFAULTS.maxErrorLength).toBe(1_000);
    expect(DEFAULTS.listLimitMax).toBe(100);
    expect(DEFAULT_BACKOFF).toEqual({ baseMs: 10_000, factor: 2, maxMs: 3_600_000, jitter: 0.1 });
  });

  it('backoff: 10 s, 20 s, 40 s … capped at 1 h, jitter within ±10 %', () => {
    const none = () => 0.5;
    expect([1, 2, 3, 4].map((a) => retryDelayMs(a, DEFAULT_BACKOFF, none))).toEqual([10_000, 20_000, 40_000, 80_000]);
    expect(retryDelayMs(30, DEFAULT_BACKOFF, none)).toBe(3_600_000);
    expect(retryDelayMs(1, DEFAULT_BACKOFF, () => 0)).toBe(9_000);
    expect(retryDelayMs(1, DEFAULT_BACKOFF, () => 0.999999)).toBe(11_000);
    const table = retryDelayTable(DEFAULT_BACKOFF, none);
    expect(table.slice(0, 3)).toEqual([10_000, 20_000, 40_000]);
    expect(table.at(-1)).toBe(3_600_000);
    expect(table.length).toBeLessThan(15);
  });

  it('options are validated at construction, naming the bad field', () => {
    expect(() => new DatabaseQueue({ connectionString: 'postgres://x/y', leaseMs: 5 })).toThrow(ValidationError);
    expect(() => new DatabaseQueue({ connectionString: 'postgres://x/y', leaseMs: 5 })).toThrow(/leaseMs/);
    expect(() => new DatabaseQueue({})).toThrow(ConfigError);
  });
});
