import { handleMetricsGet } from '@/lib/observability/metrics';

export const dynamic = 'force-dynamic';

/** The holder of METRICS_TOKEN (required in production; open locally when unset): see metrics.ts. */
export async function GET(request: Request) {
  return handleMetricsGet(request);
}
