import type { Pool, PoolClient, Client, QueryResultRow } from 'pg';

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
}

/** A Prisma interactive transaction (`prisma.$transaction(async (tx) => ...)`) or client. */
export interface PrismaRawQueryable {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>;
}

export type Queryable = Pool | PoolClient | Client | PrismaRawQueryable;

function isPrisma(q: Queryable): q is PrismaRawQueryable {
  return typeof (q as PrismaRawQueryable).$queryRawUnsafe === 'function';
}

export function toExecutor(q: Queryable, options: { prepare?: boolean } = {}): SqlExecutor {
  if (isPrisma(q)) {
    return {
      query: async <R extends QueryResultRow>(text: string, params: readonly unknown[]) =>
        q.$queryRawUnsafe<R[]>(text, ...params),
    };
  }
  const prepare = options.prepare ?? false;
  return {
    query: async <R extends QueryResultRow>(text: string, params: readonly unknown[], name?: string) =>
      (await q.query<R>({ text, values: params as unknown[], ...(prepare && name ? { name } : {}) })).rows,
  };
}
