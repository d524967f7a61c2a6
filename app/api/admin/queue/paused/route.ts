import { handlePausedGet } from '@/lib/admin/http';

export const dynamic = 'force-dynamic';

export async function GET(request: Request) {
  return handlePausedGet(request);
}
