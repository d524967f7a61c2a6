/**
 * The app's shared connections: one pg pool, the Prisma client over it (driver adapter), and the
 * queue. Cached on globalThis so Next.js dev reloads do not open a new pool per edit. Serverless
 * functions keep the pool small (DATABASE_POOL_MAX, default 3): many instances share one server.
 */
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '@/generated/prisma/client';
import { ConfigError } from 'pg-conveyor';
import { DatabaseQueue, queuePoolConfig } from 'pg-conveyor';
import { appLogger } from '@/lib/observability/logger';
import { instrumentQueue } from '@/lib/observability/metrics';

interface Connections {
  url: string;
  pool: pg.Pool;
  prisma: PrismaClient;
  queue: DatabaseQueue;
}

const cache = globalThis as typeof globalThis & { __conveyorConnections?: Connections };

export function databaseUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new ConfigError('DATABASE_URL is not set (npm run dev sets it to the embedded database)');
  return url;
}

export function connections(): Connections {
  const url = databaseUrl();
  if (cache.__conveyorConnections?.url !== url) {
    const max = Number(process.env.DATABASE_POOL_MAX ?? 3);
    // One pool for Prisma and the queue, set up as the queue sets up its own: every statement
    // bounded (statement_timeout, lock_timeout), generic plans for the queue's prepared statements;
    // behind PgBouncer in transaction mode (`pgbouncer=true`) neither, which a pooler cannot carry.
    const { config, preparedStatements } = queuePoolConfig(url, { max });
    const pool = new pg.Pool(config);
    // A connection the server ended while idle (restart, failover): the pool replaces it on next use.
    pool.on('error', (error) => appLogger().warn({ error: error.message, code: (error as { code?: string }).code }, 'idle database connection lost'));
    const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
    const queue = DatabaseQueue.configure({ pool, preparedStatements, logger: appLogger() });
    instrumentQueue(queue);
    cache.__conveyorConnections = { url, pool, prisma, queue };
  }
  return cache.__conveyorConnections!;
}

export const getPool = () => connections().pool;
export const getPrisma = () => connections().prisma;
export const getQueue = () => connections().queue;

/** Tests and scripts that must exit: close everything opened here. */
export async function closeConnections(): Promise<void> {
  const open = cache.__conveyorConnections;
  cache.__conveyorConnections = undefined;
  if (!open) return;
  await open.prisma.$disconnect();
  await open.pool.end();
  await DatabaseQueue.closeDefault().catch(() => {});
}
