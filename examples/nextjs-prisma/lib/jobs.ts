// The app's background work: a typed job and a workflow, and the one registry every runner takes.
import { DatabaseQueue, defineJob, jobHandlers } from 'pg-conveyor';
import { defineWorkflow, Workflows } from 'pg-conveyor/workflows';
import { z } from 'zod';

export const queue = new DatabaseQueue({ connectionString: process.env.DATABASE_URL!, poolMax: 3 });

/** Stands in for a mail provider: what was sent, for the example's test. */
export const outbox: string[] = [];
const mailer = { send: async (to: string, text: string) => void outbox.push(`${to}: ${text}`) };

export const sendReceipt = defineJob({
  type: 'SEND_RECEIPT',
  payload: z.object({ orderId: z.string(), email: z.email() }),
  maxAttempts: 5,
  handler: async (job) => {
    await mailer.send(job.payload.email, `receipt for ${job.payload.orderId}`);
    return { sent: true };
  },
});

export const followUp = defineWorkflow({
  name: 'order-follow-up',
  input: z.object({ orderId: z.string(), email: z.email() }),
  run: async (ctx, { orderId, email }) => {
    await ctx.step('thank', () => mailer.send(email, `thanks for ${orderId}`));
    await ctx.sleep('wait a week', 7 * 86_400_000);
    await ctx.step('ask for a review', () => mailer.send(email, `how was ${orderId}?`));
    return { orderId };
  },
});

export const workflows = new Workflows(queue, [followUp]);

export const handlers = { ...jobHandlers(sendReceipt), ...workflows.handlers() };
