import type { NextConfig } from 'next';

const nextConfig: NextConfig = {
  // pg and the Prisma adapter load native-ish Node modules; keep them out of the server bundle.
  serverExternalPackages: ['pg', '@prisma/adapter-pg'],
  poweredByHeader: false,
};

export default nextConfig;
