import { beforeAll, describe, expect, it } from 'vitest';
import { POST as login } from '../../app/api/auth/login/route';
import { GET as events } from '../../app/api/admin/queue/events/route';
import { createUser } from '@/lib/auth/users';
import { connections } from '@/lib/db/client';
import { useAppDatabase } from '../helpers/app-env';

useAppDatabase({ SESSION_SECRET: 'e'.repeat(40), NODE_ENV: 'test' });
let cookie = '';

beforeAll(async () => {
  await createUser(connections().pool, { email: 'm@example.com', password: 'manager-password', role: 'MANAGER' });
  const response = await login(new Request('http://localhost/api/auth/login', { method: 'POST', body: JSON.stringify({ email: 'm@example.com', password: 'manager-password' }) }));
  cookie = response.headers.get('set-cookie')!.split(';')[0]!;
});

/** Reads server-sent events until `count` named events arrived. */
async function readEvents(response: Response, count: number, onEvent?: (n: number) => Promise<void>) {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const seen: { event: string; data: unknown }[] = [];
  let buffer = '';
  while (seen.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value);
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.+)$/m.exec(block)?.[1];
      const data = /^data: (.+)$/m.exec(block)?.[1];
      if (event && data) {
        seen.push({ event, data: JSON.parse(data) });
        await onEvent?.(seen.length);
      }
    }
  }
  await reader.cancel();
  return seen;
}

describe('GET /api/admin/queue/events', () => {
  it('streams a job’s changes as they happen', async () => {
    const { queue } = connections();
    const job = await queue.enqueue({ jobType: 'SSE' });
    const claimed = (await queue.claimJob(['SSE']))!;
    const controller = new AbortController();
    const response = await events(new Request(`http://localhost/api/admin/queue/events?jobId=${job.id}`, { headers: { cookie }, signal: controller.signal }));
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    const seen = await readEvents(response, 3, async (n) => {
      if (n === 1) await queue.updateProgress(claimed, 1, 2, 'half');
      if (n === 2) await queue.completeJob(claimed, { ok: true });
    });
    controller.abort();
    expect(seen.map((e) => e.event)).toEqual(['job', 'job', 'job']);
    expect(seen.map((e) => (e.data as { status: string }).status)).toEqual(['PROCESSING', 'PROCESSING', 'COMPLETED']);
    expect((seen[1]!.data as { progress: unknown }).progress).toEqual({ current: 1, total: 2, message: 'half' });
  });

  it('streams queue stats; refuses the signed-out', async () => {
    const controller = new AbortController();
    const response = await events(new Request('http://localhost/api/admin/queue/events', { headers: { cookie }, signal: controller.signal }));
    const [first] = await readEvents(response, 1);
    controller.abort();
    expect(first).toMatchObject({ event: 'stats', data: { queueStats: { pending: expect.any(Number) } } });
    expect((await events(new Request('http://localhost/api/admin/queue/events'))).status).toBe(401);
  });
});
