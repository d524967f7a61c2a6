/**
 * The app's logger: the queue library's (pino, one JSON line per event) with the app's name, shared
 * by the routes, the worker process and the queue. In development the lines go through pino-pretty
 * (readable, coloured on a terminal); in production they stay JSON for the platform's log drain.
 * LOG_LEVEL (or CONVEYOR_LOG_LEVEL) picks the level; tests are silent unless one is set.
 */
import pretty from 'pino-pretty';
import { createLogger, type Logger, type LoggerOptions } from 'pg-conveyor';

const cache = globalThis as typeof globalThis & { __conveyorLogger?: Logger };

function levelFromEnv(env: Record<string, string | undefined>): LoggerOptions['level'] {
  const named = (env.LOG_LEVEL ?? env.CONVEYOR_LOG_LEVEL)?.toLowerCase();
  const levels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
  if (named && levels.includes(named)) return named as LoggerOptions['level'];
  return env.NODE_ENV === 'test' ? 'silent' : 'info';
}

/** A logger for this environment, writing to `out`: JSON lines in production, pino-pretty's otherwise. */
export function buildAppLogger(env: Record<string, string | undefined>, out: NodeJS.WritableStream & { isTTY?: boolean }): Logger {
  const level = levelFromEnv(env);
  if (env.NODE_ENV === 'production') return createLogger({ name: 'conveyor-app', level, destination: out });
  return createLogger({
    name: 'conveyor-app',
    level,
    destination: pretty({ sync: true, destination: out, colorize: out.isTTY === true, ignore: 'pid,hostname' }),
  });
}

/** The process's logger, made on first use, to stdout. */
export function appLogger(): Logger {
  return (cache.__conveyorLogger ??= buildAppLogger(process.env, process.stdout));
}
