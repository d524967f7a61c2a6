/** How pg's connection and schema errors are explained (core/database-check.ts), for codes a local test server cannot produce. */
import { describe, expect, it } from 'vitest';
import { ConfigError } from 'pg-conveyor';
import { explainDatabaseError } from '../../src/core/database-check';

const URL = 'postgresql://app:hunter2@db.example.internal:6543/shop';
const explained = (error: object) => explainDatabaseError(Object.assign(new Error('raw'), error), URL) as Error;

describe('explainDatabaseError', () => {
  it('says what to do for each kind of failure, and never shows the password', () => {
    const cases: [object, RegExp][] = [
      [{ code: 'ENOTFOUND' }, /Cannot resolve the database host "db\.example\.internal": check the host/],
      [{ code: 'EAI_AGAIN' }, /Cannot resolve the database host/],
      [{ code: 'ETIMEDOUT' }, /Cannot reach PostgreSQL at db\.example\.internal:6543 \(ETIMEDOUT\): check the host, the port and the network/],
      [{ code: '28P01', message: 'password authentication failed for user "app"' }, /refused the login for user "app": check the user and password/],
      [{ code: '3D000', message: 'database "shop" does not exist' }, /database "shop" does not exist: create it/],
      [{ code: '42P01', message: 'relation "job_queue" does not exist' }, /not migrated .*npx conveyor migrate/],
    ];
    for (const [error, message] of cases) {
      const answer = explained(error);
      expect(answer, JSON.stringify(error)).toBeInstanceOf(ConfigError);
      expect(answer.message).toMatch(message);
      expect(answer.message).not.toContain('hunter2');
      expect(answer.cause).toMatchObject(error);
    }
  });

  it('leaves other errors as they are', () => {
    const other = Object.assign(new Error('deadlock detected'), { code: '40P01' });
    expect(explainDatabaseError(other, URL)).toBe(other);
  });
});
