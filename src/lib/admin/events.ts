/**
 * GET /api/admin/queue/events[?jobId=] (MANAGER): server-sent events.
 *   event: stats  the stats response (same shape as /api/admin/queue/stats), when it changes
 *   event: job    one job (with ?jobId=), whenever its state or progress changes
 * The server reads the database every second and sends only changes, so it works behind any
 * pooler; clients (the monitor page) fall back to polling if the stream breaks.
 */
import { requireRole } from '@/lib/auth/guard';
import { connections } from '@/lib/db/client';
import { errorResponse } from '@/lib/http/responses';
import { parseJobId } from '@/lib/queue/job-input';
import { jobSummary } from './http';

const TICK_MS = 1_000;
const MAX_STREAM_MS = 10 * 60_000; // clients reconnect; no stream lives forever

export async function handleEventsGet(request: Request): Promise<Response> {
  try {
    const auth = await requireRole(request, 'MANAGER');
    if (!auth.ok) return auth.response;
    const raw = new URL(request.url).searchParams.get('jobId');
    const jobId = raw === null ? null : parseJobId(raw);
    const { queue } = connections();
    const encoder = new TextEncoder();
    let timer: NodeJS.Timeout | undefined;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        const started = Date.now();
        let lastStats = '';
        let lastJob = '';
        const send = (event: string, data: string) => controller.enqueue(encoder.encode(`event: ${event}\ndata: ${data}\n\n`));
        const close = () => {
          clearTimeout(timer);
          try {
            controller.close();
          } catch {
            // already closed
          }
        };
        const tick = async () => {
          try {
            if (jobId) {
              const job = await queue.getJob(jobId);
              const data = JSON.stringify(job ? { ...jobSummary(job), errors: job.errors } : null);
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
            controller.enqueue(encoder.encode(': keep-alive\n\n'));
          } catch (error) {
            send('error', JSON.stringify({ error: 'database unavailable' }));
            console.error('[admin/events]', (error as Error).message);
          }
          if (request.signal.aborted || Date.now() - started > MAX_STREAM_MS) close();
          else timer = setTimeout(tick, TICK_MS);
        };
        request.signal.addEventListener('abort', close);
        void tick();
      },
      cancel() {
        clearTimeout(timer);
      },
    });
    return new Response(stream, {
      headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' },
    });
  } catch (error) {
    return errorResponse(error, 'admin/events');
  }
}
