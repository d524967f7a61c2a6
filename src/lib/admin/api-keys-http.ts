/**
 * Projects and API keys, managed by ADMIN only (reads too: the list names every key of every
 * project). Mutations are POST, same-origin, with a JSON body; a new key is in the answer to its
 * creation and nowhere else, ever.
 */
import { z } from 'zod';
import { createApiKey, listApiKeys, newApiKeySchema, ProjectNotFoundError, revokeApiKey, type ApiKeySummary } from '@/lib/auth/api-keys';
import { connections } from '@/lib/db/client';
import { badRequest, HttpError } from '@/lib/http/responses';
import { createProject, listProjects, projectNameSchema, ProjectExistsError } from '@/lib/ingestion/projects';
import { appLogger } from '@/lib/observability/logger';
import { adminRoute } from './route';

export function keyView(key: ApiKeySummary) {
  return {
    id: key.id,
    projectId: key.projectId,
    projectName: key.projectName,
    name: key.name,
    prefix: key.prefix,
    limits: key.limits,
    createdAt: key.createdAt.toISOString(),
    lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
    revokedAt: key.revokedAt?.toISOString() ?? null,
  };
}

/** GET /api/admin/api-keys (ADMIN) -> { projects, keys } */
export const handleApiKeysGet = adminRoute({ name: 'admin/api-keys', role: 'ADMIN' }, async () => {
  const { pool } = connections();
  const [projects, keys] = await Promise.all([listProjects(pool), listApiKeys(pool)]);
  return Response.json({
    projects: projects.map((p) => ({ ...p, createdAt: p.createdAt.toISOString() })),
    keys: keys.map(keyView),
  });
});

/** POST /api/admin/projects { name } (ADMIN) -> 201 { project } */
export const handleProjectCreatePost = adminRoute(
  { name: 'admin/projects', role: 'ADMIN', mutation: true, body: z.strictObject({ name: projectNameSchema }), expected: '{ name }' },
  async ({ user, body: { name } }) => {
    const project = await createProject(connections().pool, name).catch((error: unknown) => {
      if (error instanceof ProjectExistsError) throw new HttpError(409, error.message);
      throw error;
    });
    appLogger().info({ admin: user.email, project: project.name, projectId: project.id }, 'admin: project created');
    return Response.json({ project: { ...project, createdAt: project.createdAt.toISOString() } }, { status: 201 });
  },
);

/** POST /api/admin/api-keys { projectId, name, limits? } (ADMIN) -> 201 { key, apiKey } */
export const handleApiKeyCreatePost = adminRoute(
  { name: 'admin/api-keys', role: 'ADMIN', mutation: true, body: newApiKeySchema.strict(), expected: '{ projectId, name, limits? }' },
  async ({ user, body }) => {
    const { key, apiKey } = await createApiKey(connections().pool, body, user.id).catch((error: unknown) => {
      if (error instanceof ProjectNotFoundError) throw new HttpError(404, error.message);
      throw error;
    });
    appLogger().info({ admin: user.email, keyPrefix: apiKey.prefix, project: apiKey.projectName }, 'admin: API key created');
    return Response.json({ key, apiKey: keyView(apiKey) }, { status: 201, headers: { 'cache-control': 'no-store' } });
  },
);

/** POST /api/admin/api-keys/revoke?id=<id or prefix> (ADMIN) -> { apiKey } */
export const handleApiKeyRevokePost = adminRoute({ name: 'admin/api-keys/revoke', role: 'ADMIN', mutation: true }, async ({ request, user }) => {
  const id = new URL(request.url).searchParams.get('id');
  if (!id) throw badRequest("Missing id parameter (the key's id or prefix)");
  const revoked = await revokeApiKey(connections().pool, id);
  if (!revoked) return Response.json({ error: `No active API key ${id}` }, { status: 404 });
  appLogger().info({ admin: user.email, keyPrefix: revoked.prefix, project: revoked.projectName }, 'admin: API key revoked');
  return Response.json({ apiKey: keyView(revoked) });
});
