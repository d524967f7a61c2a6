import { defineConfig } from 'prisma/config';

// Prisma 7 reads connection URLs from here, not from schema.prisma. `prisma generate` needs no
// database; `prisma migrate deploy` (for users who have the schema engine) reads DATABASE_URL.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://localhost/conveyor' },
});
