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
import { appendFileSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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
  port: number;
  /** Its directory under /tmp: data, log, socket. */
  dir: string;
  /** Fast shutdown: connections are terminated, the server is gone until start(). */
  down(): void;
  /**
   * SIGKILL to the postmaster and every process it started, as a power cut or a container's
   * OOM kill would end them: no shutdown checkpoint, no goodbye to clients; the next start() runs
   * crash recovery from the WAL. (The OS keeps what was written but not yet fsynced, which a
   * power cut would not: that half is fsync's promise, not tested here.)
   */
  crash(): void;
  start(): void;
  /** A standby (startStandby) becomes a primary: `pg_ctl promote`, waiting until it takes writes. */
  promote(): void;
  /**
   * Makes sure this server, if it is ever started again, comes back read-only: a standby of
   * `primary` (standby.signal), never a second primary. What a managed service does to the old
   * primary after a failover, before anything may start it.
   */
  fence(primary: ScratchCluster): void;
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
    ? readdirSync('/usr/lib/postgresql')
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
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
    const server = net
      .createServer()
      .once('error', reject)
      .listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
  });
}

/** The programs of a cluster whose data directory is `<dir>/data`, listening on `port` only. */
function clusterAt(dir: string, port: number, options: ScratchClusterOptions): ScratchCluster {
  const data = path.join(dir, 'data');
  const log = path.join(dir, 'log');
  const bin = binDir();
  const settings = [`-p ${port}`, `-k ${dir}`, '-c listen_addresses=127.0.0.1'];
  if (options.maxConnections) settings.push(`-c max_connections=${options.maxConnections}`);
  if (!options.durable) settings.push('-c fsync=off');
  const opts = settings.join(' ');
  const pgCtl = (...args: string[]) => asPostgres(path.join(bin, 'pg_ctl'), [...args, '-D', data]);
  let stopped = false;
  return {
    url: `postgresql://conveyor@127.0.0.1:${port}/conveyor`,
    port,
    dir,
    // -l: without a log file the server keeps pg_ctl's stdout open, and spawnSync waits on it forever.
    start: () => pgCtl('start', '-w', '-t', '60', '-l', log, '-o', opts),
    down: () => pgCtl('stop', '-m', 'fast', '-w'),
    crash: () => killCluster(data),
    promote: () => pgCtl('promote', '-w', '-t', '60'),
    fence: (primary) => {
      writeAsPostgres(path.join(data, 'standby.signal'), '');
      appendAsPostgres(path.join(data, 'postgresql.auto.conf'), `primary_conninfo = 'host=127.0.0.1 port=${primary.port} user=conveyor'\n`);
    },
    stop: () => {
      if (stopped) return;
      stopped = true;
      try {
        pgCtl('stop', '-m', 'immediate', '-w');
      } catch {
        // already down (down() or crash() without start(), or never started): delete it all the same
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function newClusterDir(): string {
  const dir = mkdtempSync('/tmp/conveyor-scratch-pg-');
  if (isRoot) chownSync(dir, postgresIds().uid, postgresIds().gid);
  return dir;
}

export async function startScratchCluster(options: ScratchClusterOptions): Promise<ScratchCluster> {
  const dir = newClusterDir();
  const port = await freePort();
  const cluster = clusterAt(dir, port, options);
  try {
    asPostgres(path.join(binDir(), 'initdb'), ['-D', path.join(dir, 'data'), '-U', 'conveyor', '--auth=trust', '-E', 'UTF8', '--locale=C']);
    cluster.start();
    asPostgres(path.join(binDir(), 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'conveyor', 'conveyor']);
  } catch (error) {
    cluster.stop();
    throw error;
  }
  return cluster;
}

/**
 * A streaming standby of `primary`, copied by pg_basebackup, connecting as `name` (its
 * application_name, which the primary's synchronous_standby_names names to wait for it).
 * Started and streaming when this returns; read-only until promote().
 */
export async function startStandby(primary: ScratchCluster, name: string, options: ScratchClusterOptions): Promise<ScratchCluster> {
  const dir = newClusterDir();
  const cluster = clusterAt(dir, await freePort(), options);
  try {
    const data = path.join(dir, 'data');
    // --checkpoint=fast: the copy starts at once, not after a checkpoint spread over minutes.
    asPostgres(path.join(binDir(), 'pg_basebackup'), [
      '-h',
      '127.0.0.1',
      '-p',
      String(primary.port),
      '-U',
      'conveyor',
      '-D',
      data,
      '-X',
      'stream',
      '-R',
      '--checkpoint=fast',
    ]);
    // Later lines win: the same connection as -R wrote, under a name the primary can wait for.
    appendAsPostgres(
      path.join(data, 'postgresql.auto.conf'),
      `primary_conninfo = 'host=127.0.0.1 port=${primary.port} user=conveyor application_name=${name}'\n`,
    );
    cluster.start();
  } catch (error) {
    cluster.stop();
    throw error;
  }
  return cluster;
}

/**
 * SIGKILL to a postmaster and its children. Each child is a session leader of its own, so no one
 * signal reaches them all: the postmaster is frozen first (SIGSTOP), so it starts no process
 * between the listing and the kill, then every child and it are killed. Returns when all are gone.
 */
function killCluster(data: string): void {
  const postmaster = Number(readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  process.kill(postmaster, 'SIGSTOP');
  const children = readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => parentOf(pid) === postmaster);
  for (const pid of [...children, postmaster]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // exited on its own meanwhile
    }
  }
  // Gone means reaped, not only dead: a new postmaster takes a zombie in postmaster.pid for a live one.
  const deadline = Date.now() + 10_000;
  while ([...children, postmaster].some((pid) => existsSync(`/proc/${pid}`))) {
    if (Date.now() > deadline) throw new Error(`PostgreSQL processes of ${data} still alive 10 s after SIGKILL`);
    spawnSync('sleep', ['0.02']);
  }
}

function procStat(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name, in parentheses, may hold spaces: fields start after its closing one.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}
const parentOf = (pid: number) => Number(procStat(pid)?.[1]);

function postgresIds(): { uid: number; gid: number } {
  const ids = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: ids('-u'), gid: ids('-g') };
}

/** Files in a data directory must stay the postgres user's, or the server refuses to start. */
function writeAsPostgres(file: string, text: string): void {
  writeFileSync(file, text);
  if (isRoot) chownSync(file, postgresIds().uid, postgresIds().gid);
}
function appendAsPostgres(file: string, text: string): void {
  appendFileSync(file, text);
  if (isRoot) chownSync(file, postgresIds().uid, postgresIds().gid);
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
