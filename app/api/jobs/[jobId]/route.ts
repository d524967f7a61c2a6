import { handleJobStatusGet } from '@/lib/ingestion/http';

export const dynamic = 'force-dynamic';

export async function GET(_request: Request, { params }: { params: Promise<{ jobId: string }> }) {
  return handleJobStatusGet((await params).jobId);
}
