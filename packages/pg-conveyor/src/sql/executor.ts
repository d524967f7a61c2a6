import pg, { type Pool, type PoolClient, type Client, type QueryResultRow } from 'pg';

/**
 * The one thing the queue's SQL needs from a connection: run a statement, get rows back.
 * It lets every query run on the queue's own pool, on a caller's pg client inside their
 * transaction, or inside a Prisma interactive transaction.
 */
export interface SqlExecutor {
  /**
   * `name` marks a statement whose text never changes: on a direct connection it is prepared once
   * per connection (the queue's statements cost more to plan than to run). Ignored where named
   * statements are unsafe (PgBouncer in transaction mode) and in Prisma transactions.
   */
  query<R extends QueryResultRow = QueryResultRow>(text: string, params: readonly unknown[], name?: string): Promise<R[]>;
  /**
   * Whether a Buffer parameter reaches the server as a value in binary format (node-postgres
   * sends it so; Prisma does not). The queue then sends a bulk insert's ids as a binary uuid[].
   */
  readonly binaryParams?: boolean;
}

/** A Prisma interactive transaction (`prisma.$transaction(async (tx) => ...)`) or client. */
export interface PrismaRawQueryable {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>;
}

export type Queryable = Pool | PoolClient | Client | PrismaRawQueryable;

function isPrisma(q: Queryable): q is PrismaRawQueryable {
  return typeof (q as PrismaRawQueryable).$queryRawUnsafe === 'function';
}

const TIMESTAMPTZ_OID = 1184;

/** Distinct timestamp texts an executor remembers; past that many, it forgets them all at once. */
const REMEMBERED_TIMESTAMPS = 64;

/**
 * pg's type parsers, but for timestamptz one that remembers the texts it parsed lately. The rows
 * of one statement repeat their timestamps (a claim's lease, start and update times are the
 * statement's now(); an enqueueMany's jobs share created_at and run_at), and parsing the text is
 * the costliest part of reading a job row. Every call still returns a Date of its own. Per
 * executor, so an app's own pg.types settings are left alone.
 */
function rememberingTypes(): { getTypeParser: typeof pg.types.getTypeParser } {
  const parseTimestamptz = pg.types.getTypeParser(TIMESTAMPTZ_OID, 'text') as (text: string) => Date | string;
  const remembered = new Map<string, number>();
  const parse = (text: string): Date | string => {
    const ms = remembered.get(text);
    if (ms !== undefined) return new Date(ms);
    const parsed = parseTimestamptz(text);
    // A custom app parser that returns no Date: use its answer, remember nothing.
    if (!(parsed instanceof Date)) return parsed;
    if (remembered.size >= REMEMBERED_TIMESTAMPS) remembered.clear();
    remembered.set(text, parsed.getTime());
    return parsed;
  };
  return {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
      oid === TIMESTAMPTZ_OID && format !== 'binary' ? parse : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
  };
}

/** SQLSTATEs of a connection or server that went away, or of a server that cannot take writes (a standby after a failover). */
const LOST_STATES = /^(08|57P0[123]$|25006$)/;
const LOST_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

export function isConnectionLoss(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return LOST_ERRNOS.has(code) || LOST_STATES.test(code);
  // node-postgres's own, without a code: the socket closed under a query, or was closed before.
  return /Connection terminated|not queryable|timeout exceeded when trying to connect/i.test(error.message);
}

/**
 * node-postgres emits 'error' on a client whose connection dies (a server crash, a failover),
 * and a checked-out client has no listener of the pool's: an uncaught exception that would end
 * the app's process. The statement in flight is rejected with the same error, which is what the
 * caller sees; this listener only keeps the process alive.
 */
export const ignoreConnectionLoss = (): void => {};

/**
 * Runs `work` in a transaction on a client of `pool`: committed if it resolves, rolled back if it
 * throws. A connection lost meanwhile fails the call (never the process), and is closed rather
 * than pooled. Exported for an app's own multi-statement writes on the same terms.
 */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  client.on('error', ignoreConnectionLoss);
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch((lost: Error) => (broken = lost));
    // Closed, not pooled: a connection that cannot roll back, or one that reached a server that
    // takes no writes (a standby, after a failover the address had not followed yet); the
    // pool's next connection may reach the primary.
    if (isConnectionLoss(error)) broken ??= error as Error;
    throw error;
  } finally {
    client.off('error', ignoreConnectionLoss);
    client.release(broken);
  }
}

export function toExecutor(q: Queryable, options: { prepare?: boolean } = {}): SqlExecutor {
  if (isPrisma(q)) {
    return {
      query: async <R extends QueryResultRow>(text: string, params: readonly unknown[]) => q.$queryRawUnsafe<R[]>(text, ...params),
    };
  }
  const prepare = options.prepare ?? false;
  const types = rememberingTypes();
  return {
    query: async <R extends QueryResultRow>(text: string, params: readonly unknown[], name?: string) =>
      (await q.query<R>({ text, values: params as unknown[], types, ...(prepare && name ? { name } : {}) })).rows,
    binaryParams: true,
  };
}
