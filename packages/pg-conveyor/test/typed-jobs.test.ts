/**
 * Typed jobs (defineJob): the payload checked by tsc and by its schema at enqueue, parsed again
 * for the handler (typed, never null), one registry for the Worker, the cron route and drains.
 * The @ts-expect-error lines are checked by `npm run typecheck`: each must be a compile error.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob, drainQueue, jobHandlers, ValidationError } from 'pg-conveyor';
import { cronRoute } from 'pg-conveyor/next';
import { Worker } from 'pg-conveyor/worker';
import { useQueue } from './helpers/queue';
import { countJobs } from './helpers/jobs';
import { until } from './helpers/wait';

const t = useQueue({ reset: true });
const workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
});

const seen: unknown[] = [];
const sendReceipt = defineJob({
  type: 'SEND_RECEIPT',
  payload: z.object({ orderId: z.string().min(1), total: z.number(), currency: z.string().default('EUR'), sentAt: z.coerce.date().optional() }),
  result: z.object({ sent: z.literal(true) }),
  maxAttempts: 2,
  handler: async (job) => {
    // Typed and non-null: no `job.payload!`, and the coerced date is a Date again.
    seen.push({ orderId: job.payload.orderId, currency: job.payload.currency, sentAtIsDate: job.payload.sentAt instanceof Date });
    return { sent: true as const };
  },
});
const strictDate = defineJob({ type: 'STRICT_DATE', payload: z.object({ at: z.date() }), handler: async () => null });

describe('defineJob and enqueue', () => {
  it('enqueue(definition, payload) checks the payload, applies schema defaults and the definition’s own', async () => {
    const job = await t.queue.enqueue(sendReceipt, { orderId: 'o_1', total: 42 }, { priority: 5 });
    expect(job).toMatchObject({ jobType: 'SEND_RECEIPT', payload: { orderId: 'o_1', total: 42, currency: 'EUR' }, maxAttempts: 2, priority: 5 });
    const many = await t.queue.enqueueMany(sendReceipt, [
      { orderId: 'o_2', total: 1 },
      { orderId: 'o_3', total: 2, currency: 'USD' },
    ]);
    expect(many.map((j) => j.payload?.currency)).toEqual(['EUR', 'USD']);
  });

  it('a wrong payload is a compile error and a ValidationError naming the field, and writes nothing', async () => {
    // @ts-expect-error -- total is a number
    await expect(t.queue.enqueue(sendReceipt, { orderId: 'o_1', total: '42' })).rejects.toThrow(/Invalid payload for SEND_RECEIPT: total: /);
    // @ts-expect-error -- orderId is missing
    await expect(t.queue.enqueue(sendReceipt, { total: 1 })).rejects.toThrow(ValidationError);
    await expect(
      t.queue.enqueueMany(sendReceipt, [
        { orderId: 'ok', total: 1 },
        { orderId: '', total: 2 },
      ]),
    ).rejects.toThrow(/orderId/);
    expect(await countJobs(t.db.current.pool)).toBe(0);
  });

  it('a value that would not read back from JSON as the schema wants is refused, saying what to declare', async () => {
    await expect(t.queue.enqueue(strictDate, { at: new Date() })).rejects.toThrow(/would not read back from JSON storage.*at: .*z\.coerce\.date\(\)/);
    expect(await countJobs(t.db.current.pool)).toBe(0);
    expect(() => defineJob({ type: 'not a type!', payload: z.object({}), handler: async () => null })).toThrow(/defineJob type/);
  });
});

describe('one registry for every runner', () => {
  it('the Worker runs jobHandlers(...) with the payload parsed again (dates revived)', async () => {
    seen.length = 0;
    const job = await t.queue.enqueue(sendReceipt, { orderId: 'o_w', total: 3, sentAt: new Date('2026-12-01T10:00:00Z') });
    const worker = new Worker({ queue: t.queue, handlers: jobHandlers(sendReceipt), logger: false });
    workers.push(worker);
    await worker.start();
    await until(async () => (await t.queue.getJob(job.id))!.status === 'COMPLETED');
    expect(seen).toEqual([{ orderId: 'o_w', currency: 'EUR', sentAtIsDate: true }]);
    expect((await t.queue.getJob(job.id))!.result).toEqual({ sent: true });
  });

  it('drainQueue and cronRoute take the same registry', async () => {
    seen.length = 0;
    await t.queue.enqueueMany(sendReceipt, [
      { orderId: 'd_1', total: 1 },
      { orderId: 'd_2', total: 2 },
    ]);
    expect(await drainQueue(t.queue, { handlers: jobHandlers(sendReceipt), maxJobs: 1 })).toMatchObject({ completed: 1 });
    process.env.CRON_SECRET = 'a-cron-secret-of-at-least-32-characters';
    try {
      const GET = cronRoute({ queue: () => t.queue, handlers: jobHandlers(sendReceipt) });
      const response = await GET(new Request('http://localhost/api/cron', { headers: { authorization: `Bearer ${process.env.CRON_SECRET}` } }));
      expect(await response.json()).toMatchObject({ completed: 1 });
    } finally {
      delete process.env.CRON_SECRET;
    }
    expect(seen.map((s) => (s as { orderId: string }).orderId).sort()).toEqual(['d_1', 'd_2']);
  });

  it('a stored payload the schema refuses fails the job for good; a result it refuses fails the attempt', async () => {
    const byHand = await t.queue.enqueue({ jobType: 'SEND_RECEIPT', payload: { orderId: 7 }, maxAttempts: 3 });
    const liar = defineJob({ type: 'LIAR', payload: z.object({}), result: z.object({ ok: z.boolean() }), handler: async () => ({ ok: 'yes' }) as never });
    const lied = await t.queue.enqueue(liar, {}, { maxAttempts: 1 });
    await drainQueue(t.queue, { handlers: jobHandlers(sendReceipt, liar) });
    const [a, b] = await Promise.all([t.queue.getJob(byHand.id), t.queue.getJob(lied.id)]);
    expect(a).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(a!.errors[0]).toMatchObject({ kind: 'non_retryable' });
    expect(a!.errors[0]!.message).toMatch(/stored payload for SEND_RECEIPT: orderId/);
    expect(b!.status).toBe('FAILED');
    expect(b!.errors[0]!.message).toMatch(/result of LIAR: ok/);
  });

  it('follow-ups of a defined type are checked too (definition.job)', async () => {
    const chain = defineJob({
      type: 'CHAIN',
      payload: z.object({}),
      handler: async (_job, ctx) => {
        ctx.enqueueOnComplete(sendReceipt.job({ orderId: 'next', total: 9 }));
        return null;
      },
    });
    await t.queue.enqueue(chain, {});
    await drainQueue(t.queue, { handlers: jobHandlers(chain), maxJobs: 1 });
    const [next] = await t.queue.claimJobs(['SEND_RECEIPT'], 1);
    expect(next!.payload).toEqual({ orderId: 'next', total: 9, currency: 'EUR' });
    expect(() => sendReceipt.job({ orderId: '', total: 1 })).toThrow(ValidationError);
    expect(() => jobHandlers(chain, chain)).toThrow(/defined twice/);
  });
});
