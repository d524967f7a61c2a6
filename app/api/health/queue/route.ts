import { handleHealthGet } from '@/lib/observability/health';

export const dynamic = 'force-dynamic';

/** Anyone: up or down. Details: the holder of METRICS_TOKEN (see health.ts). */
export async function GET(request: Request) {
  return handleHealthGet(request);
}
