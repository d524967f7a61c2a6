import { handleHealthGet } from '@/lib/observability/health';

export const dynamic = 'force-dynamic';

export async function GET() {
  return handleHealthGet();
}
