import { handleBulkPost } from '@/lib/admin/find-http';

export const dynamic = 'force-dynamic';

// POST only: a GET here answers 405.
export async function POST(request: Request) {
  return handleBulkPost(request);
}
