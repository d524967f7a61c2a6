import { handleCleanupRoute } from '@/lib/workers/worker-routes';

export const dynamic = 'force-dynamic';
export const maxDuration = 60;

export async function GET(request: Request) {
  return handleCleanupRoute(request);
}
