import { handleMetricsGet } from '@/lib/observability/metrics';

export const dynamic = 'force-dynamic';

export async function GET(request: Request) {
  return handleMetricsGet(request);
}
