// Vercel Cron calls this every minute (vercel.json) with Authorization: Bearer $CRON_SECRET.
// Each call runs 4 jobs at once until the queue is empty or its 50 s budget is spent; a backlog
// larger than one call starts more calls of this route, up to 4 at once (docs/serverless.md; in
// production set fanOut.url to your domain).
import { cronRoute } from 'pg-conveyor/next';
import { handlers, queue } from '@/lib/jobs';

export const maxDuration = 60;
export const GET = cronRoute({ queue, handlers, concurrency: 4, fanOut: { maxConcurrentInvocations: 4 } });
