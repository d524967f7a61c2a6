/**
 * The headers every response carries (set by proxy.ts). Pages get a Content-Security-Policy with
 * a fresh nonce per request: Next.js reads the nonce from the policy on the request and puts it on
 * its own scripts, so nothing else may run. No inline style attributes are allowed either (the
 * app uses classes only). API answers get a policy that allows nothing at all. Both refuse to be
 * framed, never sniff content types, send no referrer off-site, and, in production, tell the
 * browser to use HTTPS only (HSTS).
 */
export interface SecurityHeaderOptions {
  /** A page (HTML) rather than an API answer. */
  page: boolean;
  nonce: string;
  /** NODE_ENV: production adds HSTS; development allows what React's dev tooling needs. */
  nodeEnv: string | undefined;
}

export function contentSecurityPolicy({ page, nonce, nodeEnv }: SecurityHeaderOptions): string {
  if (!page) return "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
  const dev = nodeEnv === 'development';
  return [
    "default-src 'self'",
    // React's dev build evaluates code for its error overlay; the dev server injects styles.
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'${dev ? " 'unsafe-eval'" : ''}`,
    `style-src 'self' ${dev ? "'unsafe-inline'" : `'nonce-${nonce}'`}`,
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export function securityHeaders(options: SecurityHeaderOptions): Record<string, string> {
  return {
    'content-security-policy': contentSecurityPolicy(options),
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'strict-origin-when-cross-origin',
    'permissions-policy': 'camera=(), microphone=(), geolocation=()',
    ...(options.nodeEnv === 'production' ? { 'strict-transport-security': 'max-age=63072000; includeSubDomains' } : {}),
  };
}
