// npm test: paying an order enqueues its receipt and starts its follow-up in one transaction;
// draining runs both (against the database in DATABASE_URL, migrated by npm run migrate).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { drainUntilEmpty } from 'pg-conveyor/testing';
import { prisma } from '../lib/db';
import { handlers, outbox, queue, workflows } from '../lib/jobs';
import { payOrder } from '../lib/orders';

after(async () => {
  await queue.close();
  await prisma.$disconnect();
});

test('paying an order sends its receipt and thanks, then the follow-up sleeps', async () => {
  const id = `o_${Date.now()}`;
  await prisma.order.create({ data: { id, email: 'ada@example.com' } });
  const paid = await payOrder(id);
  await drainUntilEmpty(queue, handlers);
  assert.equal((await queue.getJob(paid.receiptJobId))?.status, 'COMPLETED');
  assert.deepEqual(outbox.sort(), [`ada@example.com: receipt for ${id}`, `ada@example.com: thanks for ${id}`]);
  const run = await workflows.getRun(paid.runId);
  assert.equal(run?.currentStep, 'wait a week');
  assert.equal((await prisma.order.findUnique({ where: { id } }))?.status, 'PAID');
});
