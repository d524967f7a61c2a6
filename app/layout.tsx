import type { Metadata, Viewport } from 'next';
import { connection } from 'next/server';
import './globals.css';

export const metadata: Metadata = {
  title: 'Conveyor',
  description: 'A Postgres-backed job queue: ingestion, vectorization and search, drained by cron workers.',
};

export const viewport: Viewport = { width: 'device-width', initialScale: 1 };

export default async function RootLayout({ children }: { children: React.ReactNode }) {
  // Every page is rendered per request: its scripts carry that request's CSP nonce (proxy.ts),
  // which a page prerendered at build time could not.
  await connection();
  return (
    <html lang="en">
      <body>
        <header className="topbar">
          <a href="/" className="brand">
            Conveyor
          </a>
          <nav>
            <a href="/">Ingest &amp; search</a>
            <a href="/admin/queue-monitor">Queue monitor</a>
            <a href="/admin/workflows">Workflow runs</a>
          </nav>
        </header>
        <main>{children}</main>
      </body>
    </html>
  );
}
