import type { TestProject } from 'vitest/node';
import { resolveDatabaseUrl } from '../../scripts/db/local-postgres.mjs';
import { ensureTemplateDatabase } from './template-db';

/**
 * Starts (or reuses) the database and builds the app's migrated template every test file clones.
 * What it provides (adminUrl, templateDb) is declared beside the library's own global setup.
 */
export default async function setup(project: TestProject) {
  const adminUrl = await resolveDatabaseUrl();
  project.provide('adminUrl', adminUrl);
  project.provide('templateDb', await ensureTemplateDatabase(adminUrl));
}
