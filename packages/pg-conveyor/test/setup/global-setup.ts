import type { TestProject } from 'vitest/node';
import { resolveDatabaseUrl } from '../../../../scripts/db/local-postgres.mjs';
import { ensureTemplateDatabase, queueTemplate } from './template-db';

declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string;
    templateDb: string;
  }
}

/** Starts (or reuses) the database and builds the queue-only template every test file clones. */
export default async function setup(project: TestProject) {
  const adminUrl = await resolveDatabaseUrl();
  project.provide('adminUrl', adminUrl);
  project.provide('templateDb', await ensureTemplateDatabase(adminUrl, queueTemplate));
}
