/**
 * Structured logs. The queue, the worker and the cron route write one line per event through a
 * Logger: pino's calling convention (`logger.warn({ jobId }, 'message')`), so a pino logger (or a
 * child of the app's own) can be passed as is, and bunyan or a small adapter over anything else.
 * Without one, the library makes a pino logger writing JSON lines to stdout, at the level named by
 * CONVEYOR_LOG_LEVEL (default info; silent under NODE_ENV=test). For readable lines in development,
 * pipe the output through `pino-pretty`, or pass a pino logger built with it.
 *
 * Faults the queue expects (the database restarting, a terminated connection, a refused connect)
 * are logged at warn, with the message and code only, once per minute per kind: a worker polling
 * through a database outage writes a line a minute, not a stack trace per slot per poll.
 */
import { pino, type DestinationStream, type LevelWithSilent } from 'pino';

type Fields = Record<string, unknown>;

export interface Logger {
  debug(fields: Fields, message: string): void;
  info(fields: Fields, message: string): void;
  warn(fields: Fields, message: string): void;
  error(fields: Fields, message: string): void;
  /** pino's: lets hot paths skip building a line nobody will write. */
  isLevelEnabled?(level: string): boolean;
}

export interface LoggerOptions {
  /** debug, info, warn, error or silent. Default: CONVEYOR_LOG_LEVEL, else info (silent under NODE_ENV=test). */
  level?: LevelWithSilent;
  /** The `name` field of every line. Default pg-conveyor. */
  name?: string;
  /** Where the JSON lines go. Default: stdout. */
  destination?: DestinationStream;
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

function defaultLevel(env: Record<string, string | undefined> = process.env): LevelWithSilent {
  const named = env.CONVEYOR_LOG_LEVEL?.toLowerCase();
  if (named && (LEVELS as readonly string[]).includes(named)) return named as LevelWithSilent;
  return env.NODE_ENV === 'test' ? 'silent' : 'info';
}

/** A pino logger named pg-conveyor, writing JSON lines (time in ISO 8601, level as a name). */
export function createLogger(options: LoggerOptions = {}): Logger {
  const settings = {
    name: options.name ?? 'pg-conveyor',
    level: options.level ?? defaultLevel(),
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  // pino's own default destination: stdout, written synchronously, so no line is lost at exit.
  return options.destination ? pino(settings, options.destination) : pino(settings);
}

/** For `logger: false`. */
export const SILENT_LOGGER: Logger = { debug() {}, info() {}, warn() {}, error() {}, isLevelEnabled: () => false };

let shared: Logger | null = null;

/** The logger of queues and workers given none: one per process, made on first use. */
export function defaultLogger(): Logger {
  return (shared ??= createLogger());
}

/** A logger option as given (a Logger, false for none, undefined for the default) made a Logger. */
export const resolveLogger = (given: Logger | false | undefined, fallback: () => Logger = defaultLogger): Logger =>
  given === false ? SILENT_LOGGER : (given ?? fallback());

export const enabled = (logger: Logger, level: 'debug' | 'info') => logger.isLevelEnabled?.(level) ?? true;

/** The fields every job line carries. */
export const jobFields = (job: { id: string; jobType: string; attempts: number }) => ({
  jobId: job.id,
  jobType: job.jobType,
  attempt: job.attempts,
});

/**
 * SQLSTATE classes and codes of a connection that went away or could not be made: the server
 * shutting down or restarting (57P01-57P03), connection exceptions (08xxx), too many connections.
 */
const EXPECTED_SQLSTATE = /^(08|57P0[1-3]|53300)/;
const EXPECTED_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
const EXPECTED_MESSAGE = /Connection terminated|connection error and is not queryable|timeout exceeded when trying to connect|terminating connection/i;

/** Whether an error is a database connection coming and going, which the queue rides out. */
export function isExpectedFault(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (EXPECTED_SQLSTATE.test(code) || EXPECTED_ERRNO.has(code))) return true;
  return EXPECTED_MESSAGE.test(error.message);
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Logs errors: an unexpected one at error level with its stack (pino's `err`); an expected fault
 * at warn with its message and code only, and the same fault again within `windowMs` not at all,
 * counted instead and told (`repeated`) when it is next logged.
 */
export class FaultLog {
  private readonly seen = new Map<string, { at: number; repeated: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly windowMs = 60_000,
  ) {}

  report(context: string, error: unknown, fields: Fields = {}): void {
    const message = `${context}: ${messageOf(error)}`;
    // An explained fault (a ConfigError saying what to do) carries the driver's error as its cause.
    const fault = [error, error instanceof Error ? error.cause : undefined].find(isExpectedFault);
    if (fault === undefined) {
      this.logger.error({ ...fields, err: error }, message);
      return;
    }
    const code = (fault as { code?: unknown }).code;
    const key = `${context}|${typeof code === 'string' ? code : messageOf(error)}`;
    const now = Date.now();
    const last = this.seen.get(key);
    if (last && now - last.at < this.windowMs) {
      last.repeated++;
      return;
    }
    this.seen.set(key, { at: now, repeated: 0 });
    this.logger.warn(
      { ...fields, error: messageOf(error), ...(typeof code === 'string' ? { code } : {}), ...(last?.repeated ? { repeated: last.repeated } : {}) },
      message,
    );
  }
}
