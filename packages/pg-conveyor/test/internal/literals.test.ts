/** The queue's own parameter encodings (sql/literals.ts), read back by the server. */
import { describe, expect, it } from 'vitest';
import { newJobId } from '../../src/core/job-id';
import { uuidArrayBinary } from '../../src/sql/literals';
import { useTestDatabase } from '../helpers/db';

const db = useTestDatabase();

describe('ids sent as a binary uuid[]', () => {
  it('reach the server as the texts they were made from, in order, however many', async () => {
    for (const count of [0, 1, 3, 1_000]) {
      const ids = Array.from({ length: count }, () => newJobId());
      const { rows } = await db.current.pool.query<{ ids: string[] }>('SELECT $1::uuid[]::text[] AS ids', [uuidArrayBinary(ids)]);
      expect(rows[0]!.ids).toEqual(ids);
    }
    // Any canonical UUID text, not only the queue's own (follow-ups and retries take the same path).
    const mixed = ['00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '0123abcd-4567-89ef-ABCD-0123456789AB'];
    const { rows } = await db.current.pool.query<{ ids: string[] }>('SELECT $1::uuid[]::text[] AS ids', [uuidArrayBinary(mixed)]);
    expect(rows[0]!.ids).toEqual(mixed.map((id) => id.toLowerCase()));
  });
});
