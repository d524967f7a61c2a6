import { workerRoute } from '@/lib/workers/worker-routes';

export const dynamic = 'force-dynamic';
export const maxDuration = 60;

/** Who may call: Vercel Cron (or run-workers.sh) with `Bearer $CRON_SECRET`; nobody when it is unset (cron-auth.ts). */
export const GET = workerRoute('ingestion');
