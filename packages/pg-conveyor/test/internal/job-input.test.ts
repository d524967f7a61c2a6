/** Unit tests of enqueue's input checks (core/job-input.ts) and job ids (core/job-id.ts). */
import { describe, expect, it } from 'vitest';
import { enqueueSchema, isPlainEnqueue } from '../../src/core/job-input';
import { newJobId } from '../../src/core/job-id';

describe('the fast path of enqueue validation', () => {
  it('accepts nothing the schema refuses, and takes the common shapes', () => {
    const inputs: unknown[] = [
      { jobType: 'A' },
      { jobType: 'A', payload: { n: 1 } },
      { jobType: 'A', priority: 1_000_000, maxAttempts: 1_000 },
      { jobType: 'A', priority: -1_000_000, maxAttempts: 1, payload: undefined },
      { jobType: '' },
      { jobType: 'a b' },
      { jobType: 'x'.repeat(65) },
      { jobType: 7 },
      {},
      { jobType: 'A', priority: 1.5 },
      { jobType: 'A', priority: 1_000_001 },
      { jobType: 'A', priority: Number.NaN },
      { jobType: 'A', priority: '1' },
      { jobType: 'A', maxAttempts: 0 },
      { jobType: 'A', maxAttempts: 1_001 },
      { jobType: 'A', maxAttempts: Infinity },
      { jobType: 'A', extra: 1 },
      { jobType: 'A', delayMs: 5 },
      Object.assign(Object.create({ inherited: true }), { jobType: 'A' }),
      [{ jobType: 'A' }],
      null,
      'A',
      new (class Job {
        jobType = 'A';
      })(),
    ];
    for (const input of inputs) {
      if (isPlainEnqueue(input)) expect(enqueueSchema.safeParse(input).success, JSON.stringify(input)).toBe(true);
    }
    expect(inputs.slice(0, 4).every((input) => isPlainEnqueue(input))).toBe(true);
  });
});

describe('newJobId', () => {
  it('makes UUIDv7s that increase strictly within a process, even thousands in one millisecond', () => {
    const ids = Array.from({ length: 5_000 }, () => newJobId());
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    const ms = parseInt(ids[0]!.replace(/-/g, '').slice(0, 12), 16);
    expect(Math.abs(ms - Date.now())).toBeLessThan(5_000);
  });
});
