/** Admin users: roles are ordered, each includes the ones below it. */
import type pg from 'pg';
import { z } from 'zod';
import { hashPassword, verifyPassword } from './password';

export const ROLES = ['VIEWER', 'MANAGER', 'ADMIN'] as const;
export type Role = (typeof ROLES)[number];

export const hasRole = (role: Role, atLeast: Role) => ROLES.indexOf(role) >= ROLES.indexOf(atLeast);

export interface User {
  id: string;
  email: string;
  role: Role;
}

export const newUserSchema = z.object({
  email: z
    .email()
    .max(254)
    .transform((e) => e.toLowerCase()),
  password: z.string().min(10, 'must be at least 10 characters').max(200),
  role: z.enum(ROLES),
});

/**
 * Creates a user, or resets an existing one's password and role; a reset ends every session the
 * user had, in the same statement (a stolen cookie does not outlive a password change).
 */
export async function createUser(pool: pg.Pool, input: z.input<typeof newUserSchema>): Promise<User> {
  const { email, password, role } = newUserSchema.parse(input);
  const { rows } = await pool.query<User>(
    `WITH saved AS (
       INSERT INTO users (email, password_hash, role) VALUES ($1, $2, $3)
       ON CONFLICT (email) DO UPDATE SET password_hash = EXCLUDED.password_hash, role = EXCLUDED.role
       RETURNING id, email, role
     ), revoked AS (
       UPDATE user_sessions s SET revoked_at = now() FROM saved WHERE s.user_id = saved.id AND s.revoked_at IS NULL
     )
     SELECT id, email, role FROM saved`,
    [email, await hashPassword(password), role],
  );
  return rows[0]!;
}

// A fixed hash to verify against when the email is unknown, so the answer takes the same time.
let dummyHash: Promise<string> | undefined;

/** The user if email and password match; null otherwise (without saying which was wrong). */
export async function authenticate(pool: pg.Pool, email: string, password: string): Promise<User | null> {
  const { rows } = await pool.query<User & { password_hash: string }>('SELECT id, email, role, password_hash FROM users WHERE email = $1', [
    email.toLowerCase(),
  ]);
  const row = rows[0];
  const ok = await verifyPassword(password, row?.password_hash ?? (await (dummyHash ??= hashPassword('dummy-password'))));
  if (!row || !ok) return null;
  await pool.query('UPDATE users SET last_login_at = now() WHERE id = $1', [row.id]);
  return { id: row.id, email: row.email, role: row.role };
}
