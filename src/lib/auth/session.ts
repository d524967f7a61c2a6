/**
 * Sessions: an iron-session sealed cookie (encrypted and signed), httpOnly, SameSite=Lax, Secure
 * in production, 8 hours. It holds only the user id: the role is read from the database on each
 * request, so a demoted or deleted user loses access at once.
 *
 * SESSION_SECRET (32+ characters) signs the cookie. Outside production, when it is not set, a
 * random one is kept in .data/session-secret so `npm run dev` works without setup.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sealData, unsealData } from 'iron-session';
import { ConfigError } from '@/lib/queue/errors';

export const SESSION_COOKIE = 'conveyor_session';
const TTL_SECONDS = 8 * 3600;

interface SessionData {
  userId: string;
}

function sessionSecret(): string {
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

export async function sessionCookie(userId: string): Promise<string> {
  const sealed = await sealData({ userId } satisfies SessionData, { password: sessionSecret(), ttl: TTL_SECONDS });
  return `${SESSION_COOKIE}=${sealed}; ${cookieAttributes(TTL_SECONDS - 60)}`;
}

export const clearedSessionCookie = () => `${SESSION_COOKIE}=; ${cookieAttributes(0)}`;

/** The user id in a valid, unexpired session cookie value; null for anything else. */
export async function readSessionValue(value: string | undefined): Promise<string | null> {
  if (!value) return null;
  try {
    const data = await unsealData<Partial<SessionData>>(value, { password: sessionSecret(), ttl: TTL_SECONDS });
    return typeof data.userId === 'string' ? data.userId : null;
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    return null;
  }
}

export function cookieFromHeader(header: string | null, name = SESSION_COOKIE): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return undefined;
}
