#!/usr/bin/env node
/**
 * Makes a fresh clone runnable: installs dependencies when node_modules is missing or stale, and
 * generates the Prisma client when the schema changed. Uses only Node's builtins because it runs
 * before anything is installed. npm does not run dependencies' install scripts here, so every
 * step a postinstall would have done is done here, explicitly.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const quiet = process.argv.includes('--quiet');
const say = (line) => quiet || console.log(`bootstrap: ${line}`);
const hashOf = (...files) => {
  const hash = createHash('sha256');
  for (const file of files) hash.update(existsSync(file) ? readFileSync(file) : '');
  return hash.digest('hex');
};

function run(cmd, args, env = {}) {
  execFileSync(cmd, args, { cwd: root, stdio: quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit', env: { ...process.env, ...env } });
}

// 1. Dependencies: npm ci when node_modules is missing or older than the lockfile (a pull changed it).
const lock = path.join(root, 'package-lock.json');
const installed = path.join(root, 'node_modules', '.package-lock.json');
if (!existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs) {
  say('installing dependencies (npm ci)');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

// 2. Prisma client: generated offline. Prisma's CLI wants a schema-engine binary even for
// generate; the stub explains itself if anything ever calls it.
const schema = path.join(root, 'prisma', 'schema.prisma');
const generatedDir = path.join(root, 'src', 'generated');
const clientStamp = path.join(generatedDir, '.schema-hash');
const schemaHash = hashOf(schema, lock);
if (!existsSync(clientStamp) || readFileSync(clientStamp, 'utf8') !== schemaHash) {
  say('generating the Prisma client');
  run(path.join(root, 'node_modules', '.bin', 'prisma'), ['generate'], {
    PRISMA_SCHEMA_ENGINE_BINARY: path.join(root, 'scripts', 'prisma-schema-engine-stub.sh'),
    PRISMA_HIDE_UPDATE_MESSAGE: '1',
  });
  mkdirSync(generatedDir, { recursive: true });
  writeFileSync(clientStamp, schemaHash);
}

// 3. The queue library (packages/pg-conveyor): the app, the scripts and worker processes import it
// as a user would, from its compiled output, so it is built whenever its sources changed.
const libDir = path.join(root, 'packages', 'pg-conveyor');
const libSources = readdirSync(path.join(libDir, 'src'), { recursive: true })
  .map(String)
  .filter((file) => file.endsWith('.ts'))
  .sort()
  .map((file) => path.join(libDir, 'src', file));
const libStamp = path.join(libDir, 'dist', '.source-hash');
const libHash = hashOf(...libSources, path.join(libDir, 'package.json'), path.join(libDir, 'tsconfig.build.json'), lock);
if (!existsSync(libStamp) || readFileSync(libStamp, 'utf8') !== libHash) {
  say('building packages/pg-conveyor');
  // From an empty dist/, so a source file renamed or deleted leaves no stale copy to be packed.
  // (Here, not in the package's build: npm pack rebuilds in place while tests run from dist/.)
  rmSync(path.join(libDir, 'dist'), { recursive: true, force: true });
  run('npm', ['run', '--silent', 'build', '-w', 'pg-conveyor']);
  writeFileSync(libStamp, libHash);
}
