/**
 * A throwaway PostgreSQL cluster of its own in /tmp, beside the project-local dev cluster (never
 * instead of it), for what must not share a server: a test that restarts PostgreSQL, and the
 * benchmarks, which must measure on a server that syncs its commits like a production one.
 *
 *   const cluster = await startScratchCluster({ durable: true });
 *   stopScratchClusterAtExit(cluster);     // scripts: also on an error or Ctrl-C
 *   ... cluster.url ...
 *   cluster.stop();                        // stopped, files deleted
 *
 * durable: true leaves every setting at PostgreSQL's default (fsync, synchronous_commit,
 * full_page_writes, jit, the planner's), so figures measured on it hold for a stock server.
 * durable: false turns fsync off, as the dev cluster does, for tests that only need a server to
 * stop and start. Either way only where it listens is configured: port, 127.0.0.1, socket dir.
 *
 * As root, PostgreSQL's programs run as the `postgres` OS user (it refuses to run as root), as
 * scripts/db/local-postgres.mjs does for the dev cluster. Usable from tsx scripts and vitest tests.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export interface ScratchClusterOptions {
  /** true: PostgreSQL's defaults (fsync on); false: fsync off, for tests that need no durability. */
  durable: boolean;
  /** Left at PostgreSQL's default (100) unless given. */
  maxConnections?: number;
}

export interface ScratchCluster {
  url: string;
  /** Its directory under /tmp: data, log, socket. */
  dir: string;
  /** Fast shutdown: connections are terminated, the server is gone until start(). */
  down(): void;
  start(): void;
  /** Stops it for good and deletes its files. Safe to call twice. */
  stop(): void;
}

const isRoot = process.getuid?.() === 0;

/** pg_config's bin directory, else the newest /usr/lib/postgresql/<major>/bin (Debian). */
export function binDir(): string {
  try {
    const dir = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (existsSync(path.join(dir, 'initdb'))) return dir;
  } catch {
    // no pg_config on PATH
  }
  const majors = existsSync('/usr/lib/postgresql')
    ? readdirSync('/usr/lib/postgresql').filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a))
    : [];
  const found = majors.map((v) => `/usr/lib/postgresql/${v}/bin`).find((dir) => existsSync(path.join(dir, 'initdb')));
  if (!found) throw new Error('no PostgreSQL binaries found (pg_config, /usr/lib/postgresql/*/bin): run npm run db:start once');
  return found;
}

function asPostgres(command: string, args: string[]): void {
  const [cmd, argv] = isRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
  // cwd '/': the postgres user may not be allowed into the caller's directory.
  const result = spawnSync(cmd, argv, { encoding: 'utf8', cwd: '/' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
}

/** A TCP port on 127.0.0.1 that nothing listens on now. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function startScratchCluster(options: ScratchClusterOptions): Promise<ScratchCluster> {
  const dir = mkdtempSync('/tmp/conveyor-scratch-pg-');
  if (isRoot) execFileSync('chown', ['postgres', dir]);
  const data = path.join(dir, 'data');
  const log = path.join(dir, 'log');
  const port = await freePort();
  const bin = binDir();
  const settings = [`-p ${port}`, `-k ${dir}`, '-c listen_addresses=127.0.0.1'];
  if (options.maxConnections) settings.push(`-c max_connections=${options.maxConnections}`);
  if (!options.durable) settings.push('-c fsync=off');
  const opts = settings.join(' ');
  // -l: without a log file the server keeps pg_ctl's stdout open, and spawnSync waits on it forever.
  const start = () => asPostgres(path.join(bin, 'pg_ctl'), ['start', '-D', data, '-w', '-t', '60', '-l', log, '-o', opts]);
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    try {
      asPostgres(path.join(bin, 'pg_ctl'), ['stop', '-D', data, '-m', 'immediate', '-w']);
    } catch {
      // already down (down() without start(), or never started): delete it all the same
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    asPostgres(path.join(bin, 'initdb'), ['-D', data, '-U', 'conveyor', '--auth=trust', '-E', 'UTF8', '--locale=C']);
    start();
    asPostgres(path.join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'conveyor', 'conveyor']);
  } catch (error) {
    stop();
    throw error;
  }
  return {
    url: `postgresql://conveyor@127.0.0.1:${port}/conveyor`,
    dir,
    start,
    down: () => asPostgres(path.join(bin, 'pg_ctl'), ['stop', '-D', data, '-m', 'fast', '-w']),
    stop,
  };
}

/**
 * For scripts: stop and delete the cluster however the process ends: normally, on an uncaught
 * error (both end in 'exit', where only synchronous work runs, which stop() is), or on Ctrl-C or
 * a kill, which skip 'exit' unless handled. Not for vitest, whose afterAll does this.
 */
export function stopScratchClusterAtExit(cluster: ScratchCluster): void {
  process.once('exit', () => cluster.stop());
  // `on`, not `once`: Ctrl-C reaches this process twice (from the terminal, and relayed by npm and
  // tsx), and a second SIGINT with no listener left would kill it halfway through deleting.
  const codes = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
  for (const signal of Object.keys(codes) as (keyof typeof codes)[]) {
    process.on(signal, () => {
      cluster.stop();
      process.exit(codes[signal]);
    });
  }
}
