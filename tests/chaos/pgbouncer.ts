/** A PgBouncer in transaction pooling mode in front of the test database, started per test file. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { freePort } from '../helpers/ports';
import path from 'node:path';
import { ensurePgbouncer } from '../../scripts/ensure-pgbouncer.mjs';

export interface Bouncer {
  url: string;
  stop(): Promise<void>;
}

export async function startPgbouncer(databaseUrl: string): Promise<Bouncer> {
  const binary = ensurePgbouncer();
  const target = new URL(databaseUrl);
  const port = await freePort();
  const dir = mkdtempSync('/tmp/conveyor-pgbouncer-');
  const isRoot = process.getuid?.() === 0;
  writeFileSync(path.join(dir, 'users.txt'), `"${target.username}" ""\n`);
  writeFileSync(
    path.join(dir, 'pgbouncer.ini'),
    `[databases]
* = host=${target.hostname} port=${target.port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = trust
auth_file = ${dir}/users.txt
pool_mode = transaction
max_client_conn = 500
default_pool_size = 8
ignore_startup_parameters = extra_float_digits
logfile = ${dir}/pgbouncer.log
`,
  );
  // PgBouncer refuses to run as root.
  if (isRoot) spawnSync('chown', ['-R', 'postgres', dir]);
  // setpriv execs PgBouncer itself (no wrapper process), so stopping the child stops PgBouncer.
  const [cmd, args] = isRoot
    ? ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', binary, `${dir}/pgbouncer.ini`]]
    : [binary, [`${dir}/pgbouncer.ini`]];
  const child: ChildProcess = spawn(cmd, args as string[], { stdio: 'ignore' });
  for (let i = 0; ; i++) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ port, host: '127.0.0.1' }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) break;
    if (i > 100 || child.exitCode !== null) {
      let log = '';
      try {
        log = readFileSync(path.join(dir, 'pgbouncer.log'), 'utf8');
      } catch {
        // no log yet
      }
      throw new Error(`pgbouncer did not start: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const url = new URL(databaseUrl);
  url.port = String(port);
  url.searchParams.set('pgbouncer', 'true');
  return {
    url: url.toString(),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
