/**
 * A handler kind that runs an external program (a Python script, say) for each job:
 *
 *   handlers: { OCR: subprocessHandler({ command: 'python3', args: ['workers/ocr.py'] }) }
 *
 * The job's payload is written to the program's stdin as JSON. Lines `PROGRESS: 40` (percent) or
 * `PROGRESS: 3/10` on stdout become the job's progress. stdout and stderr are kept up to 1 MB each
 * (the last 1 MB). Exit 0 completes the job with `{ exitCode, stdout }`; any other exit fails the
 * attempt with the code and the end of stderr (1,000 characters), to be retried. The program is
 * killed (SIGTERM, then SIGKILL 2 s later) on timeout (default 5 min) or when the job is aborted,
 * with every process it started: it runs as the leader of a process group of its own, and the
 * signal goes to the group.
 *
 * The environment is an allowlist, not the worker's: a job's program gets PATH, HOME, LANG, LC_ALL,
 * TZ and TMPDIR, the variables named in `inheritEnv`, those given in `env`, and CONVEYOR_JOB_ID and
 * CONVEYOR_JOB_ATTEMPT. The worker's database URL, secrets and API keys stay with the worker
 * unless passed on purpose.
 *
 * @module pg-conveyor/subprocess
 */
import { spawn } from 'node:child_process';
import type { JobHandler } from './run-job.js';
import { z } from 'zod';
import { SUBPROCESS_DEFAULTS } from '../core/config.js';
import { ValidationError } from '../core/errors.js';

export interface SubprocessOptions {
  command: string;
  args?: string[];
  cwd?: string;
  /** Variables set for the program (on top of the allowlist). */
  env?: Record<string, string>;
  /** Names of the worker's own variables to pass through as they are. */
  inheritEnv?: string[];
  timeoutMs?: number;
  maxBufferBytes?: number;
}

/** Checked when the handler is made (at the Worker's construction), not at the first job. */
const subprocessOptionsSchema = z.object({
  command: z.string().min(1),
  args: z.array(z.string()).optional(),
  cwd: z.string().min(1).optional(),
  env: z.record(z.string(), z.string()).optional(),
  inheritEnv: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')).optional(),
  timeoutMs: z
    .number()
    .int()
    .min(1)
    .max(24 * 3_600_000)
    .optional(),
  maxBufferBytes: z
    .number()
    .int()
    .min(1_024)
    .max(256 * 1_048_576)
    .optional(),
});

/** Keeps the last `max` bytes written to it. */
class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  truncated = false;
  constructor(private readonly max: number) {}
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.max && this.chunks.length > 0) {
      const excess = this.size - this.max;
      const first = this.chunks[0]!;
      if (first.length <= excess) {
        this.chunks.shift();
        this.size -= first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.size -= excess;
      }
      this.truncated = true;
    }
  }
  toString(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** The worker's variables every program gets: enough to find programs and format text. */
export const SUBPROCESS_BASE_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'] as const;

function programEnv(options: SubprocessOptions, job: { id: string; attempts: number }): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of [...SUBPROCESS_BASE_ENV, ...(options.inheritEnv ?? [])]) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...options.env, CONVEYOR_JOB_ID: job.id, CONVEYOR_JOB_ATTEMPT: String(job.attempts) };
}

const PROGRESS_LINE = /^PROGRESS:\s*(\d+(?:\.\d+)?)(?:\s*\/\s*(\d+(?:\.\d+)?))?\s*$/;

export function subprocessHandler(options: SubprocessOptions): JobHandler {
  const checked = subprocessOptionsSchema.safeParse(options);
  if (!checked.success) throw ValidationError.fromZod('subprocessHandler options', checked.error, options);
  const timeoutMs = options.timeoutMs ?? SUBPROCESS_DEFAULTS.timeoutMs;
  const maxBuffer = options.maxBufferBytes ?? SUBPROCESS_DEFAULTS.maxBufferBytes;
  return (job, ctx) =>
    new Promise((resolve, reject) => {
      const child = spawn(options.command, options.args ?? [], {
        cwd: options.cwd,
        env: programEnv(options, job) as NodeJS.ProcessEnv,
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true, // a process group of its own, killed whole
      });
      const stdout = new TailBuffer(maxBuffer);
      const stderr = new TailBuffer(maxBuffer);
      let partial = '';
      // Progress updates run one after another, and all have landed before the job's outcome.
      let progress = Promise.resolve();
      let killedFor: string | null = null;
      // The whole group: a shell's or a Python pool's children die with the program.
      const signalGroup = (signal: NodeJS.Signals) => {
        try {
          process.kill(-child.pid!, signal);
        } catch {
          // the group is gone already
        }
      };
      const kill = (why: string) => {
        if (killedFor || child.pid === undefined) return;
        killedFor = why;
        signalGroup('SIGTERM');
        setTimeout(() => signalGroup('SIGKILL'), SUBPROCESS_DEFAULTS.killGraceMs).unref();
      };
      const timer = setTimeout(() => kill(`timed out after ${timeoutMs} ms`), timeoutMs);
      const onAbort = () => kill('aborted');
      ctx.signal.addEventListener('abort', onAbort, { once: true });

      child.stdout.on('data', (chunk: Buffer) => {
        stdout.push(chunk);
        // Progress lines are read as they arrive, without keeping more than one partial line.
        const lines = (partial + chunk.toString('utf8')).split('\n');
        partial = (lines.pop() ?? '').slice(-1_000);
        for (const line of lines) {
          const match = PROGRESS_LINE.exec(line.trim());
          if (!match) continue;
          const current = Number(match[1]);
          const total = match[2] === undefined ? 100 : Number(match[2]);
          progress = progress.then(() => ctx.updateProgress(Math.min(current, total), total, line.trim())).catch(() => {});
        }
      });
      child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
      child.stdin.on('error', () => {}); // a program that does not read stdin closes it early
      child.stdin.end(JSON.stringify(job.payload ?? null));

      child.on('error', (error) => {
        clearTimeout(timer);
        ctx.signal.removeEventListener('abort', onAbort);
        reject(new Error(`could not start ${options.command}: ${error.message}`));
      });
      child.on('close', async (code, signal) => {
        clearTimeout(timer);
        ctx.signal.removeEventListener('abort', onAbort);
        await progress;
        if (code === 0 && !killedFor) {
          resolve({ exitCode: 0, stdout: stdout.toString().slice(-10_000) });
          return;
        }
        const how = killedFor ? `was killed (${killedFor})` : code !== null ? `exited with code ${code}` : `died of ${signal}`;
        const head = `${options.command} ${how}`;
        // The end of stderr says what went wrong (the last line of a traceback): keep the end, so
        // the whole message fits the 1,000 characters an error keeps.
        const tail = stderr
          .toString()
          .trim()
          .slice(-(1_000 - head.length - 2));
        reject(new Error(tail ? `${head}: ${tail}` : head));
      });
    });
}
