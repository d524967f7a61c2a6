import type { TestProject } from 'vitest/node';
import { resolveDatabaseUrl } from '../../scripts/db/local-postgres.mjs';
import { ensureTemplateDatabase } from './template-db';

declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string;
    templateDb: string;
  }
}

/** Starts (or reuses) the database and builds the migrated template every test file clones. */
export default async function setup(project: TestProject) {
  const adminUrl = await resolveDatabaseUrl();
  const templateDb = await ensureTemplateDatabase(adminUrl);
  project.provide('adminUrl', adminUrl);
  project.provide('templateDb', templateDb);
}
