/** A throwaway PostgreSQL cluster of its own, so a test can restart the server without disturbing others. */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { freePort } from '../helpers/ports';
import path from 'node:path';

const isRoot = process.getuid?.() === 0;

function binDir(): string {
  return execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
}

function asPostgres(command: string, args: string[]) {
  const [cmd, argv] = isRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
  const result = spawnSync(cmd, argv, { encoding: 'utf8', cwd: '/' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
}

export interface ScratchCluster {
  url: string;
  /** Fast shutdown: connections are terminated, the server is gone until start(). */
  down(): void;
  start(): void;
  /** Stops it for good and deletes its files. */
  stop(): void;
}

export async function startScratchCluster(): Promise<ScratchCluster> {
  const dir = mkdtempSync('/tmp/conveyor-scratch-pg-');
  if (isRoot) execFileSync('chown', ['postgres', dir]);
  const data = path.join(dir, 'data');
  const port = await freePort();
  const bin = binDir();
  asPostgres(path.join(bin, 'initdb'), ['-D', data, '-U', 'conveyor', '--auth=trust', '-E', 'UTF8', '--locale=C']);
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=100 -c fsync=off`;
  asPostgres(path.join(bin, 'pg_ctl'), ['start', '-D', data, '-w', '-l', path.join(dir, 'log'), '-o', opts]);
  asPostgres(path.join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'conveyor', 'conveyor']);
  return {
    url: `postgresql://conveyor@127.0.0.1:${port}/conveyor`,
    // -l: without a log file the server keeps pg_ctl's stdout open, and spawnSync waits on it forever.
    start: () => asPostgres(path.join(bin, 'pg_ctl'), ['start', '-D', data, '-w', '-l', path.join(dir, 'log'), '-o', opts]),
    down: () => asPostgres(path.join(bin, 'pg_ctl'), ['stop', '-D', data, '-m', 'fast', '-w']),
    stop: () => {
      asPostgres(path.join(bin, 'pg_ctl'), ['stop', '-D', data, '-m', 'immediate', '-w']);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
