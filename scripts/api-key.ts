/**
 * `npm run api-key -- <command>`: projects and API keys from the command line (an operator with
 * database access is an admin).
 *   create --project <name> [--name <label>] [--create-project]
 *          [--requests-per-minute N] [--records-per-day N] [--embeddings-per-day N]
 *        prints the new key alone on standard output (the only time it is shown) and how to use
 *        it on standard error
 *   list [--project <name>]
 *   revoke <id or prefix>
 *   create-project <name>
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { ZodError } from 'zod';
import { resolveDatabaseUrl } from './db/local-postgres.mjs';
import { migrate } from '../src/lib/db/migrations';
import { apiKeyLimitsSchema, createApiKey, listApiKeys, newApiKeySchema, revokeApiKey } from '../src/lib/auth/api-keys';
import { createProject, findProject, ProjectExistsError } from '../src/lib/ingestion/projects';

const usage = `usage: npm run api-key -- create --project <name> [--name <label>] [--create-project] [--requests-per-minute N] [--records-per-day N] [--embeddings-per-day N]
       npm run api-key -- list [--project <name>]
       npm run api-key -- revoke <id or prefix>
       npm run api-key -- create-project <name>`;

function fail(message: string): never {
  console.error(`api-key: ${message}`);
  process.exit(2);
}

let parsed: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    allowPositionals: true,
    options: {
      project: { type: 'string' },
      name: { type: 'string' },
      'create-project': { type: 'boolean', default: false },
      'requests-per-minute': { type: 'string' },
      'records-per-day': { type: 'string' },
      'embeddings-per-day': { type: 'string' },
    },
  });
}
try {
  parsed = parse();
} catch (error) {
  fail(`${(error as Error).message}\n${usage}`);
}
const { values, positionals } = parsed;
const [command, argument] = positionals;
if (!command || !['create', 'list', 'revoke', 'create-project'].includes(command)) fail(usage);

const integer = (flag: 'requests-per-minute' | 'records-per-day' | 'embeddings-per-day') => {
  const text = values[flag];
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) fail(`--${flag} must be a whole number, not "${text}"`);
  return Number(text);
};

const connectionString = await resolveDatabaseUrl();
await migrate({ connectionString });
const pool = new pg.Pool({ connectionString, max: 1 });
try {
  if (command === 'create-project') {
    if (!argument) fail(usage);
    const project = await createProject(pool, argument);
    console.log(`project ${project.name} created (${project.id})`);
  } else if (command === 'create') {
    if (!values.project) fail(`create needs --project <name>\n${usage}`);
    // Checked before anything is written, so a bad limit does not leave a new project behind.
    const limits = apiKeyLimitsSchema.parse(
      Object.fromEntries(
        Object.entries({
          requestsPerMinute: integer('requests-per-minute'),
          recordsPerDay: integer('records-per-day'),
          embeddingsPerDay: integer('embeddings-per-day'),
        }).filter(([, v]) => v !== undefined),
      ),
    );
    const name = newApiKeySchema.shape.name.parse(values.name ?? 'cli');
    let project = await findProject(pool, values.project);
    if (!project && values['create-project']) project = await createProject(pool, values.project);
    if (!project) fail(`no project named "${values.project}" (add --create-project to create it)`);
    const { key, apiKey } = await createApiKey(pool, { projectId: project.id, name, limits });
    console.log(key);
    console.error(
      `API key ${apiKey.prefix} for project ${apiKey.projectName} (${apiKey.limits.requestsPerMinute} requests/min, ` +
        `${apiKey.limits.recordsPerDay} records/day, ${apiKey.limits.embeddingsPerDay} embeddings/day). It is shown this once: only its hash is kept.\n` +
        `Use it as: curl -H "Authorization: Bearer ${key}" "$BASE_URL/api/search?q=fox"`,
    );
  } else if (command === 'list') {
    const project = values.project ? await findProject(pool, values.project) : null;
    if (values.project && !project) fail(`no project named "${values.project}"`);
    for (const k of await listApiKeys(pool, project?.id)) {
      const state = k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : `last used ${k.lastUsedAt?.toISOString() ?? 'never'}`;
      console.log(
        `${k.prefix}  ${k.projectName}  ${k.name}  ${k.limits.requestsPerMinute}/min ${k.limits.recordsPerDay} records/day ${k.limits.embeddingsPerDay} embeddings/day  ${state}`,
      );
    }
  } else {
    if (!argument) fail(usage);
    const revoked = await revokeApiKey(pool, argument);
    if (!revoked) fail(`no active API key ${argument}`);
    console.log(`revoked ${revoked.prefix} (${revoked.name}) of project ${revoked.projectName}`);
  }
} catch (error) {
  if (error instanceof ZodError) fail(error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; '));
  if (error instanceof ProjectExistsError) fail(error.message);
  throw error;
} finally {
  await pool.end();
}
