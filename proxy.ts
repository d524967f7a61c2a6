/**
 * Runs before every request but static assets: a fresh CSP nonce for pages, and the security
 * headers for pages and API answers alike (src/lib/http/security-headers.ts).
 */
import { NextResponse, type NextRequest } from 'next/server';
import { securityHeaders } from '@/lib/http/security-headers';

export function proxy(request: NextRequest) {
  const page = !request.nextUrl.pathname.startsWith('/api/');
  const nonce = Buffer.from(crypto.randomUUID()).toString('base64');
  const headers = securityHeaders({ page, nonce, nodeEnv: process.env.NODE_ENV });
  // Next.js takes the nonce for its own scripts from the policy on the request.
  const requestHeaders = new Headers(request.headers);
  if (page) requestHeaders.set('content-security-policy', headers['content-security-policy']!);
  const response = NextResponse.next({ request: { headers: requestHeaders } });
  for (const [name, value] of Object.entries(headers)) response.headers.set(name, value);
  return response;
}

export const config = {
  matcher: [{ source: '/((?!_next/static|_next/image|favicon.ico).*)' }],
};
