/**
 * Structured logging with pino. One root logger per process; components take a child with
 * `component` set so an operator can filter by it. Level names follow Felix's
 * FELIX_LOGSEVERITYSCREEN values (Debug, Info, Warning, Error, Fatal), mapped to pino's.
 */
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

const FELIX_TO_PINO: Record<string, pino.Level> = {
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  warning: 'warn',
  warn: 'warn',
  error: 'error',
  fatal: 'fatal',
  panic: 'fatal',
};

/** Maps a Felix log severity (case-insensitive) to a pino level, or undefined if unknown. */
export function pinoLevel(felixSeverity: string): pino.Level | undefined {
  return FELIX_TO_PINO[felixSeverity.trim().toLowerCase()];
}

export const LOG_SEVERITIES = Object.keys(FELIX_TO_PINO);

export function createLogger(opts: { level?: string; name?: string; destination?: DestinationStream } = {}): Logger {
  const level = (opts.level && pinoLevel(opts.level)) ?? 'info';
  const options: pino.LoggerOptions = { level, base: { name: opts.name ?? 'tortie', pid: process.pid } };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

/** A logger that writes nothing, for unit tests and library use without a logger. */
export const silentLogger: Logger = pino({ level: 'silent' });
