import { handleJobsGet } from '@/lib/admin/find-http';

export const dynamic = 'force-dynamic';

export async function GET(request: Request) {
  return handleJobsGet(request);
}
