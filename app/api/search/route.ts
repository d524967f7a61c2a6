import { handleSearchGet } from '@/lib/ingestion/http';

export const dynamic = 'force-dynamic';

export async function GET(request: Request) {
  return handleSearchGet(request);
}
