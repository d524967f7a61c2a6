/**
 * GET /api/admin/queue/events[?jobId=] (VIEWER and up): server-sent events.
 *   event: stats  the stats response (same shape as /api/admin/queue/stats), when it changes
 *   event: job    one job (with ?jobId=), whenever its state or progress changes
 * The server reads the database every second and sends only changes, so it works behind any
 * pooler; clients (the monitor page) fall back to polling if the stream breaks.
 *
 * The session is checked again on every tick, not only at connect: a stream ends (`event: end`)
 * within a second of its user signing out, losing the role or having the password changed. A user
 * has at most MAX_STREAMS_PER_USER streams open per server process (429 beyond).
 */
import { requireRole } from '@/lib/auth/guard';
import { connections } from '@/lib/db/client';
import { parseJobId } from 'pg-conveyor/console';
import { jobDetail, jobSummary } from './http';
import { adminRoute } from './route';
import { appLogger } from '@/lib/observability/logger';

const TICK_MS = 1_000;
const MAX_STREAM_MS = 10 * 60_000; // clients reconnect; no stream lives forever
export const MAX_STREAMS_PER_USER = 4;
const openStreams = new Map<string, number>();

export const handleEventsGet = adminRoute({ name: 'admin/events', role: 'VIEWER' }, async ({ request, user }) => {
  const raw = new URL(request.url).searchParams.get('jobId');
  const jobId = raw === null ? null : parseJobId(raw);
  const userId = user.id;
  if ((openStreams.get(userId) ?? 0) >= MAX_STREAMS_PER_USER) {
    return Response.json({ error: `Too many event streams open (at most ${MAX_STREAMS_PER_USER})` }, { status: 429, headers: { 'retry-after': '10' } });
  }
  openStreams.set(userId, (openStreams.get(userId) ?? 0) + 1);
  let counted = true;
  const release = () => {
    if (!counted) return;
    counted = false;
    const left = (openStreams.get(userId) ?? 1) - 1;
    if (left > 0) openStreams.set(userId, left);
    else openStreams.delete(userId);
  };
  const { queue } = connections();
  const encoder = new TextEncoder();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      const started = Date.now();
      let lastStats = '';
      let lastJob = '';
      // A tick in flight when the client goes away finds the stream closed and sends nothing.
      const write = (text: string) => {
        if (!closed) controller.enqueue(encoder.encode(text));
      };
      const send = (event: string, data: string) => write(`event: ${event}\ndata: ${data}\n\n`);
      const close = () => {
        closed = true;
        clearTimeout(timer);
        release();
        try {
          controller.close();
        } catch {
          // already closed
        }
      };
      const tick = async () => {
        try {
          const still = await requireRole(request, 'VIEWER');
          if (!still.ok) {
            send('end', JSON.stringify({ reason: still.response.status === 401 ? 'signed out' : 'role removed' }));
            close();
            return;
          }
          if (jobId) {
            const job = await queue.getJob(jobId);
            const data = JSON.stringify(job ? jobDetail(job) : null);
            if (data !== lastJob) send('job', (lastJob = data));
          } else {
            const [stats, recent, oldest] = await Promise.all([queue.getQueueStats(), queue.listJobs({ limit: 20 }), queue.oldestPendingJob()]);
            const data = JSON.stringify({
              queueStats: { pending: stats.pending, processing: stats.processing, completed: stats.completed, failed: stats.failed },
              recentJobs: recent.map(jobSummary),
              oldestPendingJob: oldest ? { id: oldest.id, createdAt: oldest.createdAt.toISOString(), ageMinutes: oldest.ageMinutes } : null,
            });
            if (data !== lastStats) send('stats', (lastStats = data));
          }
          write(': keep-alive\n\n');
        } catch (error) {
          send('error', JSON.stringify({ error: 'database unavailable' }));
          appLogger().warn({ error: (error as Error).message }, 'admin events: database unavailable');
        }
        if (closed) return;
        if (request.signal.aborted || Date.now() - started > MAX_STREAM_MS) close();
        else timer = setTimeout(tick, TICK_MS);
      };
      request.signal.addEventListener('abort', close);
      void tick();
    },
    cancel() {
      closed = true;
      clearTimeout(timer);
      release();
    },
  });
  return new Response(stream, {
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' },
  });
});
