#!/usr/bin/env node
/** Finds PgBouncer for the pooler tests; on Debian as root, installs the distribution's package. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export function ensurePgbouncer() {
  for (const path of ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer']) if (existsSync(path)) return path;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!existsSync('/etc/debian_version') || !isRoot) {
    throw new Error('PgBouncer is needed for the pooler tests: install it (Debian: sudo apt-get install pgbouncer).');
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-q'],
    ['install', '-y', '-q', '--no-install-recommends', 'pgbouncer'],
  ]) {
    if (spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env }).status !== 0) throw new Error(`apt-get ${args.join(' ')} failed`);
  }
  // The package starts a system service we do not use.
  spawnSync('service', ['pgbouncer', 'stop'], { stdio: 'ignore' });
  return '/usr/sbin/pgbouncer';
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(ensurePgbouncer());
