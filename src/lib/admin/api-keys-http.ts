/**
 * Projects and API keys, managed by ADMIN only (reads too: the list names every key of every
 * project). Mutations are POST, same-origin, with a JSON body; a new key is in the answer to its
 * creation and nowhere else, ever.
 */
import { z } from 'zod';
import { createApiKey, listApiKeys, newApiKeySchema, ProjectNotFoundError, revokeApiKey, type ApiKeySummary } from '@/lib/auth/api-keys';
import { crossSiteRefused, requireRole, sameOrigin, type Guarded } from '@/lib/auth/guard';
import { connections } from '@/lib/db/client';
import { badRequest, errorResponse, HttpError, readBodyText, zodIssues } from '@/lib/http/responses';
import { createProject, listProjects, projectNameSchema, ProjectExistsError } from '@/lib/ingestion/projects';
import { appLogger } from '@/lib/observability/logger';

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

async function adminMutation(request: Request): Promise<Guarded> {
  if (!sameOrigin(request)) return { ok: false, response: crossSiteRefused() };
  return requireRole(request, 'ADMIN');
}

async function jsonBody<S extends z.ZodType>(request: Request, schema: S): Promise<z.output<S>> {
  if ((request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase() !== 'application/json') {
    throw badRequest('Content-Type must be application/json');
  }
  let body: unknown;
  try {
    body = JSON.parse(await readBodyText(request, 16 * 1024));
  } catch (error) {
    if (error instanceof HttpError) throw error;
    throw badRequest('Body is not valid JSON');
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw badRequest('Invalid request', zodIssues(parsed.error));
  return parsed.data;
}

/** GET /api/admin/api-keys (ADMIN) -> { projects, keys } */
export async function handleApiKeysGet(request: Request): Promise<Response> {
  try {
    const auth = await requireRole(request, 'ADMIN');
    if (!auth.ok) return auth.response;
    const { pool } = connections();
    const [projects, keys] = await Promise.all([listProjects(pool), listApiKeys(pool)]);
    return Response.json({
      projects: projects.map((p) => ({ ...p, createdAt: p.createdAt.toISOString() })),
      keys: keys.map(keyView),
    });
  } catch (error) {
    return errorResponse(error, 'admin/api-keys');
  }
}

/** POST /api/admin/projects { name } (ADMIN) -> 201 { project } */
export async function handleProjectCreatePost(request: Request): Promise<Response> {
  try {
    const auth = await adminMutation(request);
    if (!auth.ok) return auth.response;
    const { name } = await jsonBody(request, z.strictObject({ name: projectNameSchema }));
    const project = await createProject(connections().pool, name);
    appLogger().info({ admin: auth.user.email, project: project.name, projectId: project.id }, 'admin: project created');
    return Response.json({ project: { ...project, createdAt: project.createdAt.toISOString() } }, { status: 201 });
  } catch (error) {
    if (error instanceof ProjectExistsError) return Response.json({ error: error.message }, { status: 409 });
    return errorResponse(error, 'admin/projects');
  }
}

/** POST /api/admin/api-keys { projectId, name, limits? } (ADMIN) -> 201 { key, apiKey } */
export async function handleApiKeyCreatePost(request: Request): Promise<Response> {
  try {
    const auth = await adminMutation(request);
    if (!auth.ok) return auth.response;
    const input = await jsonBody(request, newApiKeySchema.strict());
    const { key, apiKey } = await createApiKey(connections().pool, input, auth.user.id);
    appLogger().info({ admin: auth.user.email, keyPrefix: apiKey.prefix, project: apiKey.projectName }, 'admin: API key created');
    return Response.json({ key, apiKey: keyView(apiKey) }, { status: 201, headers: { 'cache-control': 'no-store' } });
  } catch (error) {
    if (error instanceof ProjectNotFoundError) return Response.json({ error: error.message }, { status: 404 });
    return errorResponse(error, 'admin/api-keys');
  }
}

/** POST /api/admin/api-keys/revoke?id=<id or prefix> (ADMIN) -> { apiKey } */
export async function handleApiKeyRevokePost(request: Request): Promise<Response> {
  try {
    const auth = await adminMutation(request);
    if (!auth.ok) return auth.response;
    const id = new URL(request.url).searchParams.get('id');
    if (!id) throw badRequest("Missing id parameter (the key's id or prefix)");
    const revoked = await revokeApiKey(connections().pool, id);
    if (!revoked) return Response.json({ error: `No active API key ${id}` }, { status: 404 });
    appLogger().info({ admin: auth.user.email, keyPrefix: revoked.prefix, project: revoked.projectName }, 'admin: API key revoked');
    return Response.json({ apiKey: keyView(revoked) });
  } catch (error) {
    return errorResponse(error, 'admin/api-keys/revoke');
  }
}
