import type { NextConfig } from 'next';

const nextConfig: NextConfig = {
  // pg and the Prisma adapter load native-ish Node modules; keep them out of the server bundle.
  // pg-conveyor too: loaded by Node from node_modules, one copy for every route, and its
  // migrations folder where the package keeps it.
  serverExternalPackages: ['pg', '@prisma/adapter-pg', 'pg-conveyor', 'pino', 'pino-pretty'],
  poweredByHeader: false,
  // The browser tests build into their own folder, so they never clash with `npm run dev`.
  distDir: process.env.NEXT_DIST_DIR ?? '.next',
  // The local worker loop calls these every few seconds; their lines would drown everything else.
  logging: { incomingRequests: { ignore: [/\/api\/workers\//] } },
};

export default nextConfig;
