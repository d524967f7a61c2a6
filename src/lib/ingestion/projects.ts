/**
 * Projects hold records; API keys act on one each. Created by an admin (UI or CLI), never by an
 * API call naming one.
 */
import type pg from 'pg';
import { z } from 'zod';

export const projectNameSchema = z.string().trim().min(1).max(200);

export interface Project {
  id: string;
  name: string;
  createdAt: Date;
}

export interface ProjectOverview extends Project {
  records: number;
  activeKeys: number;
}

export class ProjectExistsError extends Error {
  constructor(readonly project: string) {
    super(`A project named "${project}" already exists`);
    this.name = 'ProjectExistsError';
  }
}

export async function createProject(db: pg.Pool | pg.PoolClient, name: string): Promise<Project> {
  const parsed = projectNameSchema.parse(name);
  const { rows } = await db.query(`INSERT INTO projects (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id, name, created_at`, [parsed]);
  if (!rows[0]) throw new ProjectExistsError(parsed);
  return { id: rows[0].id, name: rows[0].name, createdAt: rows[0].created_at };
}

export async function findProject(db: pg.Pool | pg.PoolClient, name: string): Promise<Project | null> {
  const { rows } = await db.query('SELECT id, name, created_at FROM projects WHERE name = $1', [name.trim()]);
  return rows[0] ? { id: rows[0].id, name: rows[0].name, createdAt: rows[0].created_at } : null;
}

export async function listProjects(db: pg.Pool | pg.PoolClient): Promise<ProjectOverview[]> {
  const { rows } = await db.query(
    `SELECT p.id, p.name, p.created_at,
            (SELECT count(*)::int FROM records r WHERE r.project_id = p.id) AS records,
            (SELECT count(*)::int FROM api_keys k WHERE k.project_id = p.id AND k.revoked_at IS NULL) AS active_keys
       FROM projects p ORDER BY p.name`,
  );
  return rows.map((r) => ({ id: r.id, name: r.name, createdAt: r.created_at, records: r.records, activeKeys: r.active_keys }));
}
