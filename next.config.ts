import type { NextConfig } from 'next';

const nextConfig: NextConfig = {
  // pg and the Prisma adapter load native-ish Node modules; keep them out of the server bundle.
  serverExternalPackages: ['pg', '@prisma/adapter-pg'],
  poweredByHeader: false,
  // The local worker loop calls these every few seconds; their lines would drown everything else.
  logging: { incomingRequests: { ignore: [/\/api\/workers\//] } },
};

export default nextConfig;
