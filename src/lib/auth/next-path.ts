/**
 * Where to go after sign-in: the `?next=` path if it stays on this site, else the monitor. Browsers
 * read `/\evil.com` and `/\t/evil.com` as `//evil.com` (another host), so the test is not the
 * text's first characters but where the URL resolves: same origin, and written as a plain path.
 * No server imports: the sign-in page runs it in the browser.
 */
export const DEFAULT_AFTER_SIGN_IN = '/admin/queue-monitor';

export function pathAfterSignIn(next: string | null | undefined): string {
  // Backslashes and control characters have no place in our paths, and browsers rewrite them.
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  if (!next || !next.startsWith('/') || /[\\\u0000-\u001f\u007f]/.test(next)) return DEFAULT_AFTER_SIGN_IN;
  const base = 'http://conveyor.invalid';
  let resolved: URL;
  try {
    resolved = new URL(next, base);
  } catch {
    return DEFAULT_AFTER_SIGN_IN;
  }
  if (resolved.origin !== base) return DEFAULT_AFTER_SIGN_IN;
  return `${resolved.pathname}${resolved.search}${resolved.hash}`;
}
