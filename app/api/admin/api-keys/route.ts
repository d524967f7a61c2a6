import { handleApiKeyCreatePost, handleApiKeysGet } from '@/lib/admin/api-keys-http';

export const dynamic = 'force-dynamic';

export async function GET(request: Request) {
  return handleApiKeysGet(request);
}

export async function POST(request: Request) {
  return handleApiKeyCreatePost(request);
}
