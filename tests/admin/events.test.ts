import { beforeAll, describe, expect, it } from 'vitest';
import { POST as login } from '../../app/api/auth/login/route';
import { GET as events } from '../../app/api/admin/queue/events/route';
import { POST as logout } from '../../app/api/auth/logout/route';
import { MAX_STREAMS_PER_USER } from '@/lib/admin/events';
import { createUser } from '@/lib/auth/users';
import { connections } from '@/lib/db/client';
import { useAppDatabase } from '../helpers/app-env';

useAppDatabase({ SESSION_SECRET: 'e'.repeat(40), NODE_ENV: 'test' });
let cookie = '';

beforeAll(async () => {
  await createUser(connections().pool, { email: 'm@example.com', password: 'manager-password', role: 'MANAGER' });
  const response = await login(
    new Request('http://localhost/api/auth/login', { method: 'POST', body: JSON.stringify({ email: 'm@example.com', password: 'manager-password' }) }),
  );
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

  it('ends an open stream within a second or two of its session being signed out', async () => {
    const signedIn = await login(
      new Request('http://localhost/api/auth/login', { method: 'POST', body: JSON.stringify({ email: 'm@example.com', password: 'manager-password' }) }),
    );
    const own = signedIn.headers.get('set-cookie')!.split(';')[0]!;
    const response = await events(new Request('http://localhost/api/admin/queue/events', { headers: { cookie: own } }));
    const seen = await readEvents(response, 2, async (n) => {
      if (n === 1) await logout(new Request('http://localhost/api/auth/logout', { method: 'POST', headers: { cookie: own } }));
    });
    expect(seen.map((e) => e.event)).toEqual(['stats', 'end']);
    expect(seen[1]!.data).toEqual({ reason: 'signed out' });
  });

  it(`caps a user at ${MAX_STREAMS_PER_USER} open streams: 429 beyond, a closed one frees its place`, async () => {
    const controllers = Array.from({ length: MAX_STREAMS_PER_USER }, () => new AbortController());
    const open = (signal?: AbortSignal) => events(new Request('http://localhost/api/admin/queue/events', { headers: { cookie }, signal }));
    try {
      for (const c of controllers) expect((await open(c.signal)).status).toBe(200);
      const refused = await open();
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('10');
      controllers[0]!.abort();
      const again = new AbortController();
      controllers.push(again);
      expect((await open(again.signal)).status).toBe(200);
    } finally {
      for (const c of controllers) c.abort();
    }
  });
});
