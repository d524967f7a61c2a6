import { handleSchedulesGet, handleSchedulePost } from '@/lib/admin/http';

export const dynamic = 'force-dynamic';

export async function GET(request: Request) {
  return handleSchedulesGet(request);
}

export async function POST(request: Request) {
  return handleSchedulePost(request);
}
