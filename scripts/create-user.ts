/**
 * `npm run user:create -- --email admin@example.com --role ADMIN`
 * Creates a user (or resets the password and role of an existing one). The password comes from
 * --password, the CONVEYOR_PASSWORD environment variable, or is asked for on the terminal.
 */
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { ZodError } from 'zod';
import { resolveDatabaseUrl } from './db/local-postgres.mjs';
import { migrate } from '../src/lib/db/migrations';
import { createUser, ROLES, type Role } from '../src/lib/auth/users';

const { values } = parseArgs({
  options: { email: { type: 'string' }, role: { type: 'string', default: 'ADMIN' }, password: { type: 'string' } },
});
if (!values.email) {
  console.error(`usage: npm run user:create -- --email <email> [--role ${ROLES.join('|')}] [--password <password>]`);
  process.exit(2);
}
let password = values.password ?? process.env.CONVEYOR_PASSWORD;
if (!password) {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  password = await rl.question('Password (10+ characters): ');
  rl.close();
}
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
