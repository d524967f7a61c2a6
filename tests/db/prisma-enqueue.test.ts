/**
 * The queue inside a Prisma interactive transaction, and the app's Prisma model of job_queue
 * reading the same row (the model lives in the app's schema, so the test lives with the app).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '@/generated/prisma/client';
import { DatabaseQueue } from 'pg-conveyor';
import { useTestDatabase } from '../../packages/pg-conveyor/test/helpers/db';

const db = useTestDatabase();
let queue: DatabaseQueue;

beforeAll(() => {
  queue = new DatabaseQueue({ pool: db.current.pool });
});
afterAll(async () => queue.close());

describe('enqueue inside a Prisma transaction', () => {
  it('with a Prisma interactive transaction', async () => {
    const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.current.url }) });
    try {
      let ids: string[] = [];
      await expect(
        prisma.$transaction(async (tx) => {
          const jobs = await queue.enqueueMany([{ jobType: 'PRISMA_TX', payload: { a: 1 } }, { jobType: 'PRISMA_TX' }], { tx });
          ids = jobs.map((j) => j.id);
          throw new Error('app failed after enqueue');
        }),
      ).rejects.toThrow('app failed after enqueue');
      expect(ids).toHaveLength(2);
      for (const id of ids) expect(await queue.getJob(id)).toBeNull();

      const job = await prisma.$transaction(async (tx) => queue.enqueue({ jobType: 'PRISMA_TX', payload: { a: 2 }, priority: 3 }, { tx }));
      expect(job).toMatchObject({ jobType: 'PRISMA_TX', status: 'PENDING', priority: 3, payload: { a: 2 } });
      // The typed Prisma model reads the same row.
      const viaPrisma = await prisma.jobQueue.findUnique({ where: { id: job.id } });
      expect(viaPrisma).toMatchObject({ jobType: 'PRISMA_TX', status: 'PENDING', maxAttempts: 3, payload: { a: 2 } });
    } finally {
      await prisma.$disconnect();
    }
  });
});
