import { handleJobDetailGet } from '@/lib/admin/http';

export const dynamic = 'force-dynamic';

export async function GET(request: Request, { params }: { params: Promise<{ jobId: string }> }) {
  return handleJobDetailGet(request, (await params).jobId);
}
