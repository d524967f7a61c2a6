import { handleIngestPost } from '@/lib/ingestion/http';

export const dynamic = 'force-dynamic';

export async function POST(request: Request) {
  return handleIngestPost(request);
}
