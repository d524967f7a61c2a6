import { handleProjectCreatePost } from '@/lib/admin/api-keys-http';

export const dynamic = 'force-dynamic';

export async function POST(request: Request) {
  return handleProjectCreatePost(request);
}
