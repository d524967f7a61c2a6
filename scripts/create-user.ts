/**
 * `npm run user:create -- --email you@example.com [--role VIEWER|MANAGER|ADMIN]`
 * Creates a user (or resets the password and role of an existing one). The role defaults to
 * VIEWER: more power is asked for by name. The password is never an argument (arguments end up in
 * shell history and in every process listing): it is asked for on the terminal without echo, or
 * read from the first line of standard input when that is not a terminal
 * (`printf '%s\n' "$PASSWORD" | npm run user:create -- --email ...`), or taken from
 * CONVEYOR_PASSWORD.
 */
import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { ZodError } from 'zod';
import { resolveDatabaseUrl } from './db/local-postgres.mjs';
import { migrate } from '../src/lib/db/migrations';
import { createUser, ROLES, type Role } from '../src/lib/auth/users';

const usage = `usage: npm run user:create -- --email <email> [--role ${ROLES.join('|')}] (password: prompt, stdin or CONVEYOR_PASSWORD)`;
let values: { email?: string; role?: string; password?: string };
try {
  ({ values } = parseArgs({ options: { email: { type: 'string' }, role: { type: 'string', default: 'VIEWER' }, password: { type: 'string' } } }));
} catch (error) {
  console.error(`user:create: ${(error as Error).message}\n${usage}`);
  process.exit(2);
}
if (values.password !== undefined) {
  console.error(
    'user:create: --password is not accepted (it would be kept in shell history and shown to every process listing); ' +
      'type it at the prompt, pipe it on standard input, or set CONVEYOR_PASSWORD',
  );
  process.exit(2);
}
if (!values.email) {
  console.error(usage);
  process.exit(2);
}

const password = process.env.CONVEYOR_PASSWORD || (process.stdin.isTTY ? await promptHidden('Password (10+ characters): ') : await firstLineOfStdin());
const connectionString = await resolveDatabaseUrl();
await migrate({ connectionString });
const pool = new pg.Pool({ connectionString, max: 1 });
try {
  const user = await createUser(pool, { email: values.email, password, role: values.role as Role });
  console.log(`user ${user.email} (${user.role}) is ready: sign in at /login`);
} catch (error) {
  if (error instanceof ZodError) {
    console.error(`user:create: ${error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    process.exitCode = 2;
  } else throw error;
} finally {
  await pool.end();
}

/** A terminal prompt whose answer is not echoed. */
async function promptHidden(question: string): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk, _encoding, done) {
      if (!muted) process.stderr.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  process.stderr.write(question);
  muted = true;
  const answer = await rl.question('');
  rl.close();
  process.stderr.write('\n');
  return answer;
}

async function firstLineOfStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return text.split(/\r?\n/)[0] ?? '';
}
