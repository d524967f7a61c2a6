import { handleLimitsPost } from '@/lib/admin/http';

export const dynamic = 'force-dynamic';

export async function POST(request: Request) {
  return handleLimitsPost(request);
}
