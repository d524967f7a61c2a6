import { handleMeGet } from '@/lib/auth/http';

export const dynamic = 'force-dynamic';

export async function GET(request: Request) {
  return handleMeGet(request);
}
