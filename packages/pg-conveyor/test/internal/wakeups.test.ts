/** Unit tests of the wake-up coalescing (core/wakeups.ts); the server-side behaviour is in ../wakeups.test.ts. */
import { describe, expect, it } from 'vitest';
import { Wakeups } from '../../src/core/wakeups';

describe('Wakeups: one NOTIFY in a statement at a time, the rest announced after they commit', () => {
  function recorder() {
    const sent: string[][] = [];
    let release: () => void = () => {};
    const wakeups = new Wakeups(
      async (types) => {
        sent.push(types.sort());
        await new Promise<void>((resolve) => (release = resolve));
      },
      () => {},
    );
    return { wakeups, sent, release: () => release() };
  }

  it('the first enqueue leads; those during it wait for it to finish, then share one trailing NOTIFY', async () => {
    const { wakeups, sent, release } = recorder();
    expect(wakeups.takeLeading()).toBe(true);
    expect(wakeups.takeLeading()).toBe(false);
    wakeups.announce(['A']);
    wakeups.announce(['B', 'A']);
    expect(sent).toEqual([]); // the leading statement may not have committed yet
    wakeups.leadingDone();
    expect(sent).toEqual([['A', 'B']]);
    // While the trailing NOTIFY is out, new announcements wait for it, then go together.
    wakeups.announce(['C']);
    wakeups.announce(['D']);
    expect(sent).toHaveLength(1);
    release();
    await new Promise((r) => setTimeout(r, 0));
    expect(sent).toEqual([
      ['A', 'B'],
      ['C', 'D'],
    ]);
    const settled = wakeups.settled();
    release();
    await settled;
  });

  it('an announcement with nothing in flight is sent at once', () => {
    const { wakeups, sent } = recorder();
    wakeups.announce(['A']);
    expect(sent).toEqual([['A']]);
  });
});
