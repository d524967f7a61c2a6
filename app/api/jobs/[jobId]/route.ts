import { handleJobStatusGet } from '@/lib/ingestion/http';

export const dynamic = 'force-dynamic';

export async function GET(request: Request, { params }: { params: Promise<{ jobId: string }> }) {
  return handleJobStatusGet(request, (await params).jobId);
}
