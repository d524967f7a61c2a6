import { handleRunGet } from '@/lib/admin/workflows-http';

export const dynamic = 'force-dynamic';

export async function GET(request: Request, { params }: { params: Promise<{ runId: string }> }) {
  return handleRunGet(request, (await params).runId);
}
