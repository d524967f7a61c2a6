import { handleRunActionPost } from '@/lib/admin/workflows-http';

export const dynamic = 'force-dynamic';

export async function POST(request: Request) {
  return handleRunActionPost(request, 'retry');
}
