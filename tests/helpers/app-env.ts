/** Points the app's shared connections (src/lib/db/client.ts) at this test file's database. */
import { afterAll, beforeAll } from 'vitest';
import type pg from 'pg';
import { createApiKey, type ApiKeyLimits } from '@/lib/auth/api-keys';
import { closeConnections } from '@/lib/db/client';
import { createProject } from '@/lib/ingestion/projects';
import { useTestDatabase } from '../../packages/pg-conveyor/test/helpers/db';

export function useAppDatabase(env: Record<string, string | undefined> = {}) {
  const db = useTestDatabase();
  const saved: Record<string, string | undefined> = {};
  beforeAll(() => {
    for (const [key, value] of Object.entries({ ...env, DATABASE_URL: db.current.url })) {
      saved[key] = process.env[key];
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });
  afterAll(async () => {
    await closeConnections();
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });
  return db;
}

export const cronRequest = (path: string, secret?: string) =>
  new Request(`http://localhost${path}`, { headers: secret ? { authorization: `Bearer ${secret}` } : {} });

export function records(n: number, prefix = 'record') {
  return Array.from({ length: n }, (_, i) => ({ content: `${prefix} ${i} about ${['foxes', 'taxes', 'boxes', 'oxen'][i % 4]}`, row: i }));
}

/** A new project with an API key; `headers` authorize a request with it. */
export async function projectKey(pool: pg.Pool, name: string, limits: Partial<ApiKeyLimits> = {}) {
  const project = await createProject(pool, name);
  const { key, apiKey } = await createApiKey(pool, { projectId: project.id, name: `${name} key`, limits: limits as ApiKeyLimits });
  return { key, prefix: apiKey.prefix, projectId: project.id, headers: { authorization: `Bearer ${key}` } };
}
