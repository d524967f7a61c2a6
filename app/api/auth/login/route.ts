import { handleLoginPost } from '@/lib/auth/http';

export const dynamic = 'force-dynamic';

export async function POST(request: Request) {
  return handleLoginPost(request);
}
