/**
 * API keys of the public API. A key belongs to one project and acts only on it.
 *
 * A key reads `cvk_<12 hex>_<43 base64url>`: the first part (the prefix) names the key in lists
 * and logs and finds its row; the whole key is checked against its stored SHA-256 in constant
 * time. The key itself is returned once, by createApiKey, and never stored.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type pg from 'pg';
import { z } from 'zod';

const KEY_PATTERN = /^(cvk_[0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

export const apiKeyLimitsSchema = z.object({
  requestsPerMinute: z.number().int().min(1).max(1_000_000).default(120),
  recordsPerDay: z.number().int().min(1).max(1_000_000_000).default(100_000),
  embeddingsPerDay: z.number().int().min(1).max(1_000_000_000).default(100_000),
});
export type ApiKeyLimits = z.output<typeof apiKeyLimitsSchema>;

export const newApiKeySchema = z.object({
  projectId: z.uuid(),
  name: z.string().trim().min(1).max(100),
  limits: apiKeyLimitsSchema.default({ requestsPerMinute: 120, recordsPerDay: 100_000, embeddingsPerDay: 100_000 }),
});

/** A key as lists show it: never the secret. */
export interface ApiKeySummary {
  id: string;
  projectId: string;
  projectName: string;
  name: string;
  prefix: string;
  limits: ApiKeyLimits;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** Who a request is, once its key checked out. */
export interface ApiPrincipal {
  keyId: string;
  prefix: string;
  projectId: string;
  projectName: string;
  limits: ApiKeyLimits;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest();

const SUMMARY_COLUMNS = `k.id, k.project_id, p.name AS project_name, k.name, k.prefix, k.requests_per_minute,
  k.records_per_day, k.embeddings_per_day, k.created_at, k.last_used_at, k.revoked_at`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a raw row, its columns typed by the SELECT above
function summary(r: Record<string, any>): ApiKeySummary {
  return {
    id: r.id,
    projectId: r.project_id,
    projectName: r.project_name,
    name: r.name,
    prefix: r.prefix,
    limits: { requestsPerMinute: r.requests_per_minute, recordsPerDay: r.records_per_day, embeddingsPerDay: r.embeddings_per_day },
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  };
}

/** Creates a key for a project; the returned `key` is the only copy there will ever be. */
export async function createApiKey(
  db: pg.Pool | pg.PoolClient,
  input: z.input<typeof newApiKeySchema>,
  createdBy: string | null = null,
): Promise<{ key: string; apiKey: ApiKeySummary }> {
  const { projectId, name, limits } = newApiKeySchema.parse(input);
  const prefix = `cvk_${randomBytes(6).toString('hex')}`;
  const key = `${prefix}_${randomBytes(32).toString('base64url')}`;
  const { rows } = await db.query(
    `WITH k AS (
       INSERT INTO api_keys (project_id, name, prefix, secret_hash, requests_per_minute, records_per_day, embeddings_per_day, created_by)
       SELECT id, $2, $3, $4, $5, $6, $7, $8 FROM projects WHERE id = $1
       RETURNING *
     )
     SELECT ${SUMMARY_COLUMNS} FROM k JOIN projects p ON p.id = k.project_id`,
    [projectId, name, prefix, sha256(key), limits.requestsPerMinute, limits.recordsPerDay, limits.embeddingsPerDay, createdBy],
  );
  if (!rows[0]) throw new ProjectNotFoundError(projectId);
  return { key, apiKey: summary(rows[0]) };
}

export async function listApiKeys(db: pg.Pool | pg.PoolClient, projectId?: string): Promise<ApiKeySummary[]> {
  const { rows } = await db.query(
    `SELECT ${SUMMARY_COLUMNS} FROM api_keys k JOIN projects p ON p.id = k.project_id
      WHERE $1::uuid IS NULL OR k.project_id = $1
      ORDER BY p.name, k.created_at`,
    [projectId ?? null],
  );
  return rows.map(summary);
}

/**
 * Revokes a key, named by id or prefix, at once for every instance (each request reads the row).
 * Null when no unrevoked key has that name.
 */
export async function revokeApiKey(db: pg.Pool | pg.PoolClient, idOrPrefix: string): Promise<ApiKeySummary | null> {
  const byId = z.uuid().safeParse(idOrPrefix).success;
  const { rows } = await db.query(
    `WITH k AS (
       UPDATE api_keys SET revoked_at = now()
        WHERE ${byId ? 'id = $1::uuid' : 'prefix = $1'} AND revoked_at IS NULL
        RETURNING *
     )
     SELECT ${SUMMARY_COLUMNS} FROM k JOIN projects p ON p.id = k.project_id`,
    [idOrPrefix],
  );
  return rows[0] ? summary(rows[0]) : null;
}

// Compared against when the prefix is unknown, so a miss costs what a hit costs.
const NO_KEY_HASH = sha256('no such key');

/** The principal of an unrevoked key; null for anything else (unknown, wrong, revoked, malformed). */
export async function authenticateApiKey(db: pg.Pool, presented: string): Promise<ApiPrincipal | null> {
  const match = KEY_PATTERN.exec(presented);
  if (!match) return null;
  const { rows } = await db.query(
    `SELECT k.id, k.prefix, k.secret_hash, k.project_id, p.name AS project_name,
            k.requests_per_minute, k.records_per_day, k.embeddings_per_day
       FROM api_keys k JOIN projects p ON p.id = k.project_id
      WHERE k.prefix = $1 AND k.revoked_at IS NULL`,
    [match[1]],
  );
  const row = rows[0];
  const equal = timingSafeEqual(sha256(presented), row ? (row.secret_hash as Buffer) : NO_KEY_HASH);
  if (!row || !equal) return null;
  return {
    keyId: row.id,
    prefix: row.prefix,
    projectId: row.project_id,
    projectName: row.project_name,
    limits: { requestsPerMinute: row.requests_per_minute, recordsPerDay: row.records_per_day, embeddingsPerDay: row.embeddings_per_day },
  };
}

export class ProjectNotFoundError extends Error {
  constructor(readonly project: string) {
    super(`Project ${project} not found`);
    this.name = 'ProjectNotFoundError';
  }
}
