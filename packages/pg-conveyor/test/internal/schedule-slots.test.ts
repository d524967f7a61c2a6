/** Unit tests of the slot arithmetic schedules fire by (schedules/schedule-input.ts). */
import { describe, expect, it } from 'vitest';
import { latestDueSlot } from '../../src/schedules/schedule-input';

describe('slot arithmetic (croner)', () => {
  it('the latest due slot, in the schedule’s time zone', () => {
    const at = (iso: string) => new Date(iso);
    expect(latestDueSlot('*/5 * * * *', 'UTC', at('2026-01-01T10:00:00Z'), at('2026-01-01T10:17:30Z'))).toEqual(at('2026-01-01T10:15:00Z'));
    expect(latestDueSlot('*/5 * * * *', 'UTC', at('2026-01-01T10:15:00Z'), at('2026-01-01T10:17:30Z'))).toBeNull();
    // 09:00 in New York is 14:00 UTC in January (EST) and 13:00 UTC in July (EDT).
    expect(latestDueSlot('0 9 * * *', 'America/New_York', at('2026-01-01T00:00:00Z'), at('2026-01-01T20:00:00Z'))).toEqual(at('2026-01-01T14:00:00Z'));
    expect(latestDueSlot('0 9 * * *', 'America/New_York', at('2026-07-01T00:00:00Z'), at('2026-07-01T20:00:00Z'))).toEqual(at('2026-07-01T13:00:00Z'));
  });
});
