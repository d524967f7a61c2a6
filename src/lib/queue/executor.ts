import type { Pool, PoolClient, Client, QueryResultRow } from 'pg';

/**
 * The one thing the queue's SQL needs from a connection: run a statement, get rows back.
 * It lets every query run on the queue's own pool, on a caller's pg client inside their
 * transaction, or inside a Prisma interactive transaction.
 */
export interface SqlExecutor {
  query<R extends QueryResultRow = QueryResultRow>(text: string, params: readonly unknown[]): Promise<R[]>;
}

/** A Prisma interactive transaction (`prisma.$transaction(async (tx) => ...)`) or client. */
export interface PrismaRawQueryable {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>;
}

export type Queryable = Pool | PoolClient | Client | PrismaRawQueryable;

function isPrisma(q: Queryable): q is PrismaRawQueryable {
  return typeof (q as PrismaRawQueryable).$queryRawUnsafe === 'function';
}

export function toExecutor(q: Queryable): SqlExecutor {
  if (isPrisma(q)) {
    return {
      query: async <R extends QueryResultRow>(text: string, params: readonly unknown[]) =>
        q.$queryRawUnsafe<R[]>(text, ...params),
    };
  }
  return {
    query: async <R extends QueryResultRow>(text: string, params: readonly unknown[]) =>
      (await q.query<R>(text, params as unknown[])).rows,
  };
}
