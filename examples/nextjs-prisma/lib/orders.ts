import { prisma } from './db';
import { followUp, queue, sendReceipt, workflows } from './jobs';

/** Marks an order paid and, in the same transaction, enqueues its receipt and starts its follow-up. */
export async function payOrder(orderId: string) {
  return prisma.$transaction(async (tx) => {
    const order = await tx.order.update({ where: { id: orderId }, data: { status: 'PAID' } });
    const receipt = await queue.enqueue(sendReceipt, { orderId: order.id, email: order.email }, { tx });
    const { runId } = await workflows.start(followUp, { orderId: order.id, email: order.email }, { tx, idempotencyKey: `follow-up:${order.id}` });
    return { orderId: order.id, receiptJobId: receipt.id, runId };
  });
}
