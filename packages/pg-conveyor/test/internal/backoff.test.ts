/** Unit tests of the retry policy's delay table, which the fail statement indexes by attempt (core/backoff.ts). */
import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF, retryDelayMs } from 'pg-conveyor';
import { retryDelayTable } from '../../src/core/backoff';

describe('retryDelayTable', () => {
  it("holds each attempt's delay up to the cap, then stops: the last entry repeats for later attempts", () => {
    const none = () => 0.5;
    const table = retryDelayTable(DEFAULT_BACKOFF, none);
    expect(table.slice(0, 3)).toEqual([10_000, 20_000, 40_000]);
    expect(table.at(-1)).toBe(3_600_000);
    expect(table.length).toBeLessThan(15);
    expect(table.every((delay, i) => delay === retryDelayMs(i + 1, DEFAULT_BACKOFF, none))).toBe(true);
  });
});
