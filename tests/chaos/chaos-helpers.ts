/** Shared by the chaos tests: worker processes to start, kill and restart, and their ledger. */
import { spawn, type ChildProcess } from 'node:child_process';
import type pg from 'pg';

/** Fast tier (in `npm test`) unless CHAOS=full (`npm run test:chaos`). */
export const FULL = process.env.CHAOS === 'full';

export interface WorkerProcess {
  child: ChildProcess;
  pid: number;
  output: string[];
}

/**
 * Starts a worker process (`script`: a fixture that prints `ready` once it is working);
 * `onLine` gets each line it prints, whole.
 */
export async function startWorker(
  env: Record<string, string>,
  script = 'tests/fixtures/chaos-worker.ts',
  onLine?: (line: string) => void,
): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  let partial = '';
  if (onLine) {
    child.stdout!.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop()!;
      lines.forEach(onLine);
    });
  }
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start: ${output.join('')}`)), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output.push(chunk.toString());
      if (chunk.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.on('exit', () => reject(new Error(`worker exited early: ${output.join('')}`)));
  });
  return { child, pid: child.pid!, output };
}

export async function stopWorker(worker: WorkerProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (worker.child.exitCode !== null) return worker.child.exitCode;
  const exited = new Promise<number | null>((resolve) => worker.child.on('exit', (code) => resolve(code)));
  worker.child.kill(signal);
  return exited;
}

export async function createLedger(pool: pg.Pool): Promise<void> {
  await pool.query(
    'CREATE TABLE IF NOT EXISTS chaos_ledger (job_id uuid NOT NULL, attempt int NOT NULL, pid int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())',
  );
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
