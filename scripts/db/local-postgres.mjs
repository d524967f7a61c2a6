#!/usr/bin/env node
/**
 * The embedded default database: a project-local PostgreSQL cluster in .data/postgres, started on
 * demand from the machine's PostgreSQL binaries. With DATABASE_URL set, none of this runs.
 *
 *   node scripts/db/local-postgres.mjs start|stop|restart|status|url
 *
 * On Debian/Ubuntu as root, missing PostgreSQL is installed with apt, and pgvector is installed
 * from apt or, where the release has no package (Debian 12), built from Debian's source package of
 * a newer release (scripts/db/install-pgvector.sh). Elsewhere it prints the one command to run.
 * Plain Node (no dependencies): it runs before `npm ci` has finished being trusted.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const home = path.join(root, '.data', 'postgres');
// Where the cluster really is: .data/postgres, or where it links to (see prepareHome). PostgreSQL
// is always given real paths, which the postgres user can reach even when .data/postgres cannot.
let dataDir, runDir, logFile, portFile;
function locateCluster() {
  const real = existsSync(home) ? realpathSync(home) : home;
  dataDir = path.join(real, 'data');
  runDir = path.join(real, 'run');
  logFile = path.join(real, 'postgres.log');
  portFile = path.join(real, 'port');
}
locateCluster();
const lockFile = path.join(root, '.data', 'postgres.lock');
const USER = 'conveyor';
const DATABASE = 'conveyor';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const say = (line) => console.error(`local-postgres: ${line}`);

class SetupError extends Error {}

// ---------------------------------------------------------------- binaries

function findBinDir() {
  const candidates = [];
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  } catch {
    // no pg_config on PATH
  }
  if (existsSync('/usr/lib/postgresql')) {
    const versions = readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => `/usr/lib/postgresql/${v}/bin`));
  }
  for (const brew of ['/opt/homebrew/opt/postgresql@15/bin', '/usr/local/opt/postgresql@15/bin', '/opt/homebrew/bin', '/usr/local/bin']) {
    candidates.push(brew);
  }
  return candidates.find((dir) => existsSync(path.join(dir, 'initdb')) && existsSync(path.join(dir, 'pg_ctl')));
}

function apt(args) {
  const result = spawnSync('apt-get', args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (result.status !== 0) throw new SetupError(`apt-get ${args.join(' ')} failed:\n${result.stderr.toString().slice(-2000)}`);
}

let aptUpdated = false;
function aptInstall(packages) {
  if (!aptUpdated) {
    apt(['update', '-q']);
    aptUpdated = true;
  }
  apt(['install', '-y', '-q', '--no-install-recommends', ...packages]);
}

function ensureBinaries() {
  const found = findBinDir();
  if (found) return found;
  if (process.platform === 'darwin') {
    throw new SetupError('PostgreSQL is not installed. Run: brew install postgresql@15 pgvector   (or set DATABASE_URL)');
  }
  if (!existsSync('/etc/debian_version')) {
    throw new SetupError('PostgreSQL is not installed. Install PostgreSQL 15+ with pgvector, or set DATABASE_URL.');
  }
  if (!isRoot) {
    throw new SetupError('PostgreSQL is not installed. Run: sudo apt-get install postgresql postgresql-contrib   (or set DATABASE_URL)');
  }
  say('installing PostgreSQL with apt-get (first run only)');
  aptInstall(['postgresql', 'postgresql-contrib']);
  const installed = findBinDir();
  if (!installed) throw new SetupError('apt-get installed postgresql but no initdb was found under /usr/lib/postgresql');
  return installed;
}

function pgConfig(binDir, flag) {
  return execFileSync(path.join(binDir, 'pg_config'), [flag], { encoding: 'utf8' }).trim();
}

function ensurePgvector(binDir) {
  const major = path.basename(path.dirname(binDir));
  const sharedir = existsSync(path.join(binDir, 'pg_config')) ? pgConfig(binDir, '--sharedir') : `/usr/share/postgresql/${major}`;
  if (existsSync(path.join(sharedir, 'extension', 'vector.control'))) return;
  if (process.platform === 'darwin') throw new SetupError('pgvector is not installed. Run: brew install pgvector');
  if (!existsSync('/etc/debian_version') || !isRoot || !/^\d+$/.test(major)) {
    throw new SetupError(
      `pgvector is not installed for PostgreSQL ${major}. Install it (e.g. sudo apt-get install postgresql-${major}-pgvector), or set DATABASE_URL.`,
    );
  }
  say(`installing pgvector for PostgreSQL ${major} (first run only)`);
  try {
    aptInstall([`postgresql-${major}-pgvector`]);
  } catch {
    // Not in this release's archive (Debian 12): build it from a newer release's source package.
    const log = path.join(root, '.data', 'pgvector-build.log');
    const result = spawnSync('bash', [path.join(root, 'scripts', 'db', 'install-pgvector.sh'), major], {
      stdio: ['ignore', openSync(log, 'w'), openSync(log, 'a')],
    });
    if (result.status !== 0) throw new SetupError(`building pgvector failed; see ${path.relative(root, log)}`);
  }
  if (!existsSync(path.join(sharedir, 'extension', 'vector.control'))) {
    throw new SetupError(`pgvector was installed but ${sharedir}/extension/vector.control is missing`);
  }
  say('pgvector installed');
}

// ---------------------------------------------------------------- running as the right user

/** PostgreSQL refuses to run as root: as root, run its programs as the `postgres` user. */
function asPostgresUser(command, args, options = {}) {
  const [cmd, argv] = isRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
  // cwd '/': the postgres user may not be allowed into the caller's directory.
  return spawnSync(cmd, argv, { encoding: 'utf8', cwd: '/', ...options });
}

function ensureOsUser() {
  if (!isRoot) return;
  if (spawnSync('id', ['postgres'], { stdio: 'ignore' }).status !== 0) {
    execFileSync('useradd', ['--system', '--home-dir', '/var/lib/postgresql', '--shell', '/bin/bash', 'postgres']);
  }
}

function chownToPostgres(dir) {
  // The trailing slash makes chown follow .data/postgres when it is a link (see prepareHome).
  if (isRoot) execFileSync('chown', ['-R', 'postgres:postgres', `${dir}/`]);
}

// ---------------------------------------------------------------- the cluster

async function portIsFree(port) {
  return new Promise((resolve) => {
    const server = net.createServer().once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function acceptsConnections(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitForConnections(port, timeoutMs) {
  if (!Number.isInteger(port)) return false;
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    if (await acceptsConnections(port)) return true;
  }
  return false;
}

async function choosePort() {
  // CONVEYOR_DB_PORT picks the port the embedded cluster is first started on (kept afterwards).
  if (process.env.CONVEYOR_DB_PORT) {
    const port = Number(process.env.CONVEYOR_DB_PORT);
    if (!Number.isInteger(port) || port < 1024 || port > 65535)
      throw new SetupError(`CONVEYOR_DB_PORT must be a port number from 1024 to 65535, not "${process.env.CONVEYOR_DB_PORT}"`);
    if (!(await portIsFree(port))) throw new SetupError(`CONVEYOR_DB_PORT ${port} is in use`);
    return port;
  }
  for (let port = 54329; port < 54429; port++) if (await portIsFree(port)) return port;
  throw new SetupError('no free TCP port between 54329 and 54428');
}

const urlFor = (port) => `postgresql://${USER}@127.0.0.1:${port}/${DATABASE}`;

function isRunning(binDir) {
  if (!existsSync(path.join(dataDir, 'postmaster.pid'))) return false;
  return asPostgresUser(path.join(binDir, 'pg_ctl'), ['status', '-D', dataDir]).status === 0;
}

/**
 * As root, the cluster's files belong to `postgres`, which must be able to reach them. A checkout
 * under a private directory (/root/...) is out of its reach: then the cluster lives in
 * /var/lib/postgresql/conveyor-<hash of this checkout's path>, and .data/postgres links to it.
 */
function prepareHome() {
  if (existsSync(home)) return;
  mkdirSync(path.dirname(home), { recursive: true });
  if (isRoot && spawnSync('runuser', ['-u', 'postgres', '--', 'test', '-x', path.dirname(home)]).status !== 0) {
    const hash = createHash('sha256').update(root).digest('hex').slice(0, 12);
    const elsewhere = path.join('/var/lib/postgresql', `conveyor-${hash}`);
    mkdirSync(elsewhere, { recursive: true });
    symlinkSync(elsewhere, home);
    locateCluster();
    say(`${path.dirname(home)} is not reachable by the postgres user; the cluster lives in ${elsewhere}`);
    return;
  }
  mkdirSync(home, { recursive: true });
  locateCluster();
}

function initCluster(binDir) {
  prepareHome();
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(runDir, { recursive: true });
  chownToPostgres(home);
  say('creating the project-local cluster in .data/postgres (first run only)');
  const init = asPostgresUser(path.join(binDir, 'initdb'), ['-D', dataDir, '-U', USER, '--auth=trust', '--encoding=UTF8', '--locale=C']);
  if (init.status !== 0) throw new SetupError(`initdb failed:\n${init.stderr}`);
  // A development and test cluster: durability is traded for speed (nothing here is precious,
  // and a crash of the machine is not what the tests exercise).
  const settings = [
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = '${runDir}'`,
    'max_connections = 300',
    'shared_buffers = 256MB',
    'fsync = off',
    'synchronous_commit = off',
    'full_page_writes = off',
  ];
  writeFileSync(path.join(dataDir, 'conveyor.conf'), `${settings.join('\n')}\n`);
  writeFileSync(path.join(dataDir, 'postgresql.conf'), `${readFileSync(path.join(dataDir, 'postgresql.conf'), 'utf8')}\ninclude = 'conveyor.conf'\n`);
  chownToPostgres(home);
}

async function startCluster(binDir) {
  let port = existsSync(portFile) ? Number(readFileSync(portFile, 'utf8')) : NaN;
  if (!Number.isInteger(port) || !(await portIsFree(port))) port = await choosePort();
  writeFileSync(portFile, String(port));
  mkdirSync(runDir, { recursive: true });
  chownToPostgres(home);
  const start = asPostgresUser(path.join(binDir, 'pg_ctl'), ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o', `-p ${port}`]);
  if (start.status !== 0) {
    const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n') : '';
    throw new SetupError(`PostgreSQL did not start:\n${start.stderr}${tail}`);
  }
  if (!(await waitForConnections(port, 30_000))) throw new SetupError(`PostgreSQL started but does not accept connections on port ${port}`);
  return port;
}

function createDatabase(binDir, port) {
  const psql = (sql) => asPostgresUser(path.join(binDir, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', USER, '-d', 'postgres', '-tAc', sql]);
  const exists = psql(`SELECT 1 FROM pg_database WHERE datname = '${DATABASE}'`);
  if (exists.stdout.trim() !== '1') {
    const created = psql(`CREATE DATABASE ${DATABASE}`);
    if (created.status !== 0) throw new SetupError(`CREATE DATABASE failed: ${created.stderr}`);
  }
}

/** One process at a time sets up or starts the cluster (vitest forks, two terminals). */
async function withLock(fn) {
  mkdirSync(path.dirname(lockFile), { recursive: true });
  for (let waited = 0; ; waited += 100) {
    try {
      const fd = openSync(lockFile, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch {
      const holder = Number(readFileSync(lockFile, 'utf8') || NaN);
      const alive =
        Number.isInteger(holder) &&
        (() => {
          try {
            process.kill(holder, 0);
            return true;
          } catch {
            return false;
          }
        })();
      const stale = !alive || Date.now() - statSync(lockFile).mtimeMs > 600_000;
      if (stale) rmSync(lockFile, { force: true });
      else if (waited > 600_000) throw new SetupError(`${lockFile} is held by process ${holder}`);
      else await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockFile, { force: true });
  }
}

// ---------------------------------------------------------------- public API

/** Makes sure the project-local cluster exists and runs; returns its URL. */
export async function ensureLocalPostgres() {
  // Fast path: already running (a second `npm test` takes well under a second here).
  if (existsSync(portFile) && existsSync(path.join(dataDir, 'postmaster.pid'))) {
    const port = Number(readFileSync(portFile, 'utf8'));
    if (await acceptsConnections(port)) return urlFor(port);
  }
  return withLock(async () => {
    const binDir = ensureBinaries();
    ensurePgvector(binDir);
    ensureOsUser();
    if (!existsSync(path.join(dataDir, 'PG_VERSION'))) initCluster(binDir);
    // A postmaster that is "running" but never accepts connections is on its way out (killed a
    // moment ago): start anew, pg_ctl clears its stale pid file.
    let port = existsSync(portFile) ? Number(readFileSync(portFile, 'utf8')) : NaN;
    if (!(isRunning(binDir) && (await waitForConnections(port, 5_000)))) port = await startCluster(binDir);
    createDatabase(binDir, port);
    return urlFor(port);
  });
}

export async function stopLocalPostgres() {
  const binDir = findBinDir();
  if (!binDir || !existsSync(path.join(dataDir, 'postmaster.pid'))) return false;
  const stop = asPostgresUser(path.join(binDir, 'pg_ctl'), ['stop', '-D', dataDir, '-m', 'fast', '-w']);
  return stop.status === 0;
}

export async function localPostgresUrl() {
  if (!existsSync(portFile)) return null;
  const port = Number(readFileSync(portFile, 'utf8'));
  return (await acceptsConnections(port)) ? urlFor(port) : null;
}

/** DATABASE_URL when set (used untouched), else the embedded cluster's URL. */
export async function resolveDatabaseUrl() {
  return process.env.DATABASE_URL || ensureLocalPostgres();
}

// ---------------------------------------------------------------- CLI

async function main(command) {
  switch (command) {
    case 'start':
      console.log(await ensureLocalPostgres());
      return 0;
    case 'stop':
      say((await stopLocalPostgres()) ? 'stopped' : 'was not running');
      return 0;
    case 'restart':
      await stopLocalPostgres();
      console.log(await ensureLocalPostgres());
      return 0;
    case 'status': {
      const url = await localPostgresUrl();
      console.log(url ? `running: ${url}` : 'stopped');
      return url ? 0 : 1;
    }
    case 'url': {
      const url = await localPostgresUrl();
      if (url) console.log(url);
      else say('not running (npm run db:start)');
      return url ? 0 : 1;
    }
    default:
      say('usage: node scripts/db/local-postgres.mjs start|stop|restart|status|url');
      return 2;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv[2]).then(
    (code) => process.exit(code),
    (error) => {
      say(error instanceof SetupError ? error.message : error.stack);
      process.exit(1);
    },
  );
}
