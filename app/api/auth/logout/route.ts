import { handleLogoutPost } from '@/lib/auth/http';

export const dynamic = 'force-dynamic';

export async function POST(request: Request) {
  return handleLogoutPost(request);
}
