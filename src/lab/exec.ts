/**
 * Running external programs for the lab: short commands with a timeout and an error that says
 * what ran and what it printed, long-running daemons detached with their output in a log file,
 * and bounded waits. Every wait in the lab goes through here so none of them can hang forever.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Default limit for one short command (ip, etcdctl, birdc). Generous: 2 shared cores under load. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 20_000;

export interface RunOptions {
  timeoutMs?: number;
  /** Written to the child's stdin, then stdin is closed. */
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Resolve with the result instead of throwing when the exit code is not 0. */
  allowFailure?: boolean;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A command failed or timed out; the message carries the command line and its stderr. */
export class CommandError extends Error {
  readonly code = 'E_COMMAND';
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | null,
    readonly stdout: string,
    readonly stderr: string,
    reason: string,
  ) {
    const err = stderr.trim() || stdout.trim();
    super(`${argv.join(' ')}: ${reason}${err ? `: ${err.slice(-2000)}` : ''}`);
    this.name = 'CommandError';
  }
}

/** Runs argv[0] with the rest as arguments (no shell), collecting its output. */
export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    if (!cmd) {
      reject(new Error('run: empty argv'));
      return;
    }
    const child = spawn(cmd, args, {
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new CommandError(argv, null, stdout, stderr, `cannot run: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code: code ?? -1, stdout, stderr };
      if (timedOut) reject(new CommandError(argv, null, stdout, stderr, `timed out after ${timeoutMs} ms`));
      else if (code === 0 || opts.allowFailure) resolve(result);
      else reject(new CommandError(argv, code, stdout, stderr, signal ? `killed by ${signal}` : `exit code ${code}`));
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

export interface DaemonOptions {
  /** Appended to; the daemon's stdout and stderr both go here. */
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/**
 * Starts a long-running process detached from us (own process group, no pipes), so it outlives
 * the CLI invocation that started it; the lab state records its pid. Resolves once it has been
 * spawned, rejects if the program cannot be executed at all.
 */
export function spawnDaemon(argv: readonly string[], opts: DaemonOptions): Promise<number> {
  const [cmd, ...args] = argv;
  if (!cmd) return Promise.reject(new Error('spawnDaemon: empty argv'));
  const fd = openSync(opts.logFile, 'a');
  try {
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], env: opts.env ?? process.env, cwd: opts.cwd });
    return new Promise((resolve, reject) => {
      child.once('error', (e) => reject(new CommandError(argv, null, '', '', `cannot start: ${e.message}`)));
      child.once('spawn', () => {
        child.unref();
        if (child.pid === undefined) reject(new CommandError(argv, null, '', '', 'no pid after spawn'));
        else resolve(child.pid);
      });
    });
  } finally {
    closeSync(fd);
  }
}

/** True while a process with this pid exists (zombies included; see isRunning). */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True if the process exists and is not a zombie waiting to be reaped. */
export function isRunning(pid: number): boolean {
  if (!pidExists(pid)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 3, after the parenthesised command name (which may itself contain spaces or ')').
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Start time of a process in clock ticks since boot, to tell a recycled pid from the original. */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // starttime is field 22 overall; fields[] starts at field 3.
    const v = Number(fields[19]);
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** How long stopProcess waits after SIGTERM before escalating to SIGKILL. */
export const DEFAULT_STOP_GRACE_MS = 10_000;
/** After SIGKILL the kernel frees the process promptly; wait at most this long to see it gone. */
const KILL_WAIT_MS = 5_000;

/**
 * Sends `signal`, waits up to graceMs for the process to go, then SIGKILLs it. Resolves true if
 * it ended before the escalation. Never throws for a process that is already gone.
 */
export async function stopProcess(pid: number, opts: { signal?: NodeJS.Signals; graceMs?: number } = {}): Promise<boolean> {
  const signal = opts.signal ?? 'SIGTERM';
  if (!isRunning(pid)) return true;
  try {
    process.kill(pid, signal);
  } catch {
    return true;
  }
  if (signal === 'SIGKILL') {
    await waitFor(() => !isRunning(pid), { timeoutMs: KILL_WAIT_MS, what: `pid ${pid} to exit after SIGKILL` });
    return true;
  }
  try {
    await waitFor(() => !isRunning(pid), { timeoutMs: opts.graceMs ?? DEFAULT_STOP_GRACE_MS, what: `pid ${pid} to exit` });
    return true;
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone in between */
    }
    await waitFor(() => !isRunning(pid), { timeoutMs: KILL_WAIT_MS, what: `pid ${pid} to exit after SIGKILL` });
    return false;
  }
}

/** A bounded wait ran out. */
export class WaitTimeoutError extends Error {
  readonly code = 'E_WAIT_TIMEOUT';
  constructor(what: string, timeoutMs: number, lastError?: unknown) {
    const detail = lastError === undefined ? '' : `; last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
    super(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    this.name = 'WaitTimeoutError';
  }
}

/** Thrown from a waitFor check to end the wait at once (e.g. the daemon being waited on died). */
export class StopWaiting extends Error {
  override name = 'StopWaiting';
}

/**
 * Polls `check` until it returns a truthy value (which is returned) or the time runs out. A check
 * that throws counts as "not yet" (its last error is reported on timeout), except StopWaiting,
 * which ends the wait immediately.
 */
/** What a truthy check result can be: `cond && value` checks resolve to the value's type. */
export type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

export async function waitFor<T>(
  check: () => T | Promise<T>,
  opts: { timeoutMs: number; intervalMs?: number; what: string },
): Promise<Truthy<T>> {
  const deadline = Date.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 100;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as Truthy<T>;
    } catch (e) {
      if (e instanceof StopWaiting) throw e;
      lastError = e;
    }
    if (Date.now() >= deadline) throw new WaitTimeoutError(opts.what, opts.timeoutMs, lastError);
    await sleep(interval);
  }
}

/** Maps `fn` over `items` with at most `limit` calls in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return out;
}

/** The last `lines` lines of a log file, for error messages; empty if it does not exist. */
export function tailFile(path: string, lines = 20): string {
  if (!existsSync(path)) return '';
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
