/**
 * Sessions: a row in user_sessions, named by an iron-session sealed cookie (encrypted and signed),
 * httpOnly, SameSite=Lax, Secure in production. A request is signed in while the row is unrevoked,
 * younger than 8 hours and used within SESSION_IDLE_MINUTES (30); signing out revokes it, and a
 * password or role change revokes all of the user's (users.ts), so a copied cookie stops working
 * at once. The role is read from the database on each request, so a demoted or deleted user
 * loses access at once too.
 *
 * SESSION_SECRET (32+ characters) signs the cookie. Outside production, when it is not set, a
 * random one is kept in .data/session-secret so `npm run dev` works without setup.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sealData, unsealData } from 'iron-session';
import type pg from 'pg';
import { ConfigError } from 'pg-conveyor';
import type { User } from './users';

export const SESSION_COOKIE = 'conveyor_session';
const TTL_SECONDS = 8 * 3600;

interface SessionData {
  sid: string;
}

/** Minutes a session may go unused before it ends. */
const idleMinutes = () => {
  const value = Number(process.env.SESSION_IDLE_MINUTES);
  return Number.isFinite(value) && value > 0 ? value : 30;
};

/** The secret that seals cookies; throws ConfigError when it is missing (production) or short. */
export function sessionSecret(): string {
  const secret = process.env.SESSION_SECRET;
  if (secret) {
    if (secret.length < 32) throw new ConfigError('SESSION_SECRET must be at least 32 characters');
    return secret;
  }
  if (process.env.NODE_ENV === 'production') throw new ConfigError('SESSION_SECRET is not set');
  const file = path.join(process.cwd(), '.data', 'session-secret');
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 });
  }
  return readFileSync(file, 'utf8').trim();
}

function cookieAttributes(maxAge: number): string {
  const secure = process.env.NODE_ENV === 'production' ? '; Secure' : '';
  return `Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAge}${secure}`;
}

/** A new session for the user, and the cookie that names it. */
export async function startSession(pool: pg.Pool, userId: string): Promise<string> {
  const password = sessionSecret(); // before the row: a misconfigured server starts no session
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO user_sessions (user_id, expires_at) VALUES ($1, now() + $2 * interval '1 second') RETURNING id`,
    [userId, TTL_SECONDS],
  );
  const sealed = await sealData({ sid: rows[0]!.id } satisfies SessionData, { password, ttl: TTL_SECONDS });
  return `${SESSION_COOKIE}=${sealed}; ${cookieAttributes(TTL_SECONDS - 60)}`;
}

export const clearedSessionCookie = () => `${SESSION_COOKIE}=; ${cookieAttributes(0)}`;

/** The session id in a valid, unexpired session cookie value; null for anything else. */
export async function readSessionValue(value: string | undefined): Promise<string | null> {
  if (!value) return null;
  try {
    const data = await unsealData<Partial<SessionData>>(value, { password: sessionSecret(), ttl: TTL_SECONDS });
    return typeof data.sid === 'string' && /^[0-9a-f-]{36}$/.test(data.sid) ? data.sid : null;
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    return null;
  }
}

/**
 * The user of a live session, or null (revoked, expired, idle, or no such row). Marks the session
 * used, at most once a minute, in the same statement.
 */
export async function sessionUser(pool: pg.Pool, sid: string): Promise<User | null> {
  const { rows } = await pool.query<User>(
    `WITH live AS (
       SELECT id, user_id FROM user_sessions
        WHERE id = $1 AND revoked_at IS NULL AND expires_at > now()
          AND last_seen_at > now() - $2 * interval '1 minute'
     ), touched AS (
       UPDATE user_sessions s SET last_seen_at = now()
         FROM live WHERE s.id = live.id AND s.last_seen_at < now() - interval '1 minute'
     )
     SELECT u.id, u.email, u.role FROM live JOIN users u ON u.id = live.user_id`,
    [sid, idleMinutes()],
  );
  return rows[0] ?? null;
}

/** Ends one session (sign-out). */
export async function endSession(pool: pg.Pool, sid: string): Promise<void> {
  await pool.query('UPDATE user_sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL', [sid]);
}

export function cookieFromHeader(header: string | null, name = SESSION_COOKIE): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return undefined;
}
