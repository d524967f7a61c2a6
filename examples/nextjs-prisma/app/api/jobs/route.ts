// Vercel Cron calls this every minute (vercel.json) with Authorization: Bearer $CRON_SECRET.
import { cronRoute } from 'pg-conveyor/next';
import { handlers, queue } from '@/lib/jobs';

export const maxDuration = 60;
export const GET = cronRoute({ queue, handlers, concurrency: 4 });
