import { handleApiKeyRevokePost } from '@/lib/admin/api-keys-http';

export const dynamic = 'force-dynamic';

export async function POST(request: Request) {
  return handleApiKeyRevokePost(request);
}
