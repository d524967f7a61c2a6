/**
 * The real app for browser tests: a production build (`next build`, into .next-e2e, reused while
 * no source file is newer) served by `next start` on a free port against the test's database.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { freePort } from '../helpers/ports';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');
const distDir = '.next-e2e';
const nextBin = path.join(root, 'node_modules/.bin/next');

function newestSourceMtime(): number {
  let newest = 0;
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else newest = Math.max(newest, statSync(full).mtimeMs);
    }
  };
  for (const dir of ['app', 'src']) walk(path.join(root, dir));
  for (const file of ['next.config.ts', 'proxy.ts', 'package-lock.json', 'tsconfig.json']) newest = Math.max(newest, statSync(path.join(root, file)).mtimeMs);
  return newest;
}

export function buildApp(): void {
  const buildId = path.join(root, distDir, 'BUILD_ID');
  if (existsSync(buildId) && statSync(buildId).mtimeMs > newestSourceMtime()) return;
  const result = spawnSync(nextBin, ['build'], {
    cwd: root,
    env: { ...process.env, NEXT_DIST_DIR: distDir, NEXT_TELEMETRY_DISABLED: '1' },
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`next build failed:\n${result.stdout}\n${result.stderr}`);
}

export interface RunningApp {
  baseUrl: string;
  stop(): Promise<void>;
}

/** `onOutput`, when given, is told each chunk the server writes (stdout and stderr), as it comes. */
export async function startApp(env: Record<string, string>, onOutput?: (chunk: string) => void): Promise<RunningApp> {
  const port = await freePort();
  const child: ChildProcess = spawn(nextBin, ['start', '-p', String(port), '-H', '127.0.0.1'], {
    cwd: root,
    env: { ...process.env, ...env, NEXT_DIST_DIR: distDir, NEXT_TELEMETRY_DISABLED: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk;
    onOutput?.(chunk.toString());
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const baseUrl = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 60_000; ;) {
    if (child.exitCode !== null) throw new Error(`next start exited:\n${output}`);
    try {
      if ((await fetch(`${baseUrl}/login`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`next start did not answer within 60 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    baseUrl,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
