/**
 * Time comes from the database (`now()`) so that many app servers with drifting clocks agree.
 * Tests may inject a clock; queries then use its time instead of `now()` (see `nowParam`).
 */
export interface Clock {
  now(): Date;
}

/** The value queries bind as `coalesce($n::timestamptz, now())`: null means "database time". */
export function nowParam(clock: Clock | undefined): Date | null {
  return clock ? clock.now() : null;
}

/** A clock for tests: starts at `start` and moves only when told to. */
export class ManualClock implements Clock {
  private current: Date;
  constructor(start: Date = new Date()) {
    this.current = new Date(start);
  }
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
  set(date: Date): void {
    this.current = new Date(date);
  }
}
