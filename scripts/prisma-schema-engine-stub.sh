#!/bin/sh
# Prisma's CLI insists on a schema-engine binary even for `prisma generate`, which needs none.
# This stub lets generate run offline. Schema changes go through plain SQL migrations applied by
# `npm run db:migrate` (scripts/migrate.ts); if you have the real engine, unset
# PRISMA_SCHEMA_ENGINE_BINARY and `prisma migrate deploy` works on the same folder.
echo "conveyor: the Prisma schema engine is not installed here; use 'npm run db:migrate' to apply prisma/migrations." >&2
exit 1
