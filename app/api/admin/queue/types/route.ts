import { handleTypesGet } from '@/lib/admin/http';

export const dynamic = 'force-dynamic';

export async function GET(request: Request) {
  return handleTypesGet(request);
}
