#!/usr/bin/env node
/**
 * Finds a Chromium for the browser tests; on Debian as root, installs the distribution's package
 * (Playwright's own browser download cannot be used here). Prints the executable's path.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].filter(Boolean);

export function findChromium() {
  return candidates.find((path) => existsSync(path)) ?? null;
}

export function ensureChromium() {
  const found = findChromium();
  if (found) return found;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!existsSync('/etc/debian_version') || !isRoot) {
    throw new Error('Chromium is needed for the browser tests: install it (Debian: sudo apt-get install chromium) or set CHROMIUM_PATH.');
  }
  console.error('ensure-chromium: installing Debian chromium (first run only)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-q'],
    ['install', '-y', '-q', '--no-install-recommends', 'chromium', 'fonts-dejavu-core'],
  ]) {
    const result = spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env });
    if (result.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed`);
  }
  return findChromium() ?? execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim();
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(ensureChromium());
