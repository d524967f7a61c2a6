import { handleEventsGet } from '@/lib/admin/events';

export const dynamic = 'force-dynamic';

export async function GET(request: Request) {
  return handleEventsGet(request);
}
