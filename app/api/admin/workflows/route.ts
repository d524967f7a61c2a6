import { handleRunsGet } from '@/lib/admin/workflows-http';

export const dynamic = 'force-dynamic';

export async function GET(request: Request) {
  return handleRunsGet(request);
}
