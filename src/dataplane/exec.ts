/**
 * How the dataplane runs iproute2: every command has a timeout (a hung `ip` must make the
 * dataplane "not ready and retried", never wedge it), and the whole layer sits behind the small
 * `CommandRunner` interface so unit tests can replace it.
 *
 * `netns` exists for tests and the lab: the agent itself runs inside the node's network namespace
 * and runs plain `ip`; a test process in the root namespace instead runs `ip -n NS ...`,
 * `bridge -n NS ...` and `ip netns exec NS sysctl ...` so that nothing touches the root namespace.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';

/**
 * Limit for one iproute2 invocation. A 100,000-route batch takes about 1.1 s on this machine
 * (docs/decisions/0001-netlink.md); 60 s leaves room for a loaded 2-core box without letting a
 * wedged child block the apply loop for long.
 */
export const DEFAULT_EXEC_TIMEOUT_MS = 60_000;

/**
 * How much stdin may be queued ahead of a streaming child before a write waits for it to drain:
 * 1 MiB is ~15,000 route lines (~0.1 s of `ip` work), enough to keep it busy while the caller
 * books a chunk, small enough that a stuck child cannot make us buffer a whole batch.
 */
const STREAM_BUFFER_LIMIT_BYTES = 1024 * 1024;

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The process could not run or did not finish in time; the dataplane retries with backoff. */
export class ExecError extends Error {
  readonly code = 'E_DATAPLANE_EXEC';
  constructor(
    readonly argv: readonly string[],
    readonly reason: string,
    readonly stderr: string,
  ) {
    super(`${argv.join(' ')}: ${reason}${stderr.trim() ? `: ${stderr.trim().slice(-1000)}` : ''}`);
    this.name = 'ExecError';
  }
}

export interface CommandRunner {
  /** Runs argv (no shell). Resolves with any exit code; rejects only if it cannot run or times out. */
  run(argv: readonly string[], opts?: { input?: string; timeoutMs?: number }): Promise<ExecResult>;
  /**
   * Optional: starts argv and lets the caller stream stdin, so a long batch starts working on
   * its first lines while later ones are still being generated. Runners without it get the
   * whole input at once through `run`.
   */
  start?(argv: readonly string[], opts?: { timeoutMs?: number }): StreamingCommand;
}

export interface StreamingCommand {
  /** Queues data for stdin; resolves when the pipe can take more (back-pressure). */
  write(data: string): Promise<void>;
  /** Closes stdin and waits for the exit, with the same rules as `run`. */
  end(): Promise<ExecResult>;
  /** Kills the child (a batch that cannot be completed). */
  kill(): void;
}

/** Spawns real processes. */
export class ProcessRunner implements CommandRunner {
  constructor(private readonly defaultTimeoutMs = DEFAULT_EXEC_TIMEOUT_MS) {}

  run(argv: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
    const c = this.start(argv, opts, opts.input === undefined);
    if (opts.input !== undefined) void c.write(opts.input);
    return c.end();
  }

  start(argv: readonly string[], opts: { timeoutMs?: number } = {}, noStdin = false): StreamingCommand {
    const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
    const [cmd, ...args] = argv;
    if (!cmd) {
      const err = new ExecError(argv, 'empty argv', '');
      return { write: () => Promise.resolve(), end: () => Promise.reject(err), kill: () => undefined };
    }
    const child = spawn(cmd, args, { stdio: [noStdin ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    child.stdout?.on('data', (d: Buffer) => out.push(d));
    child.stderr?.on('data', (d: Buffer) => err.push(d));
    // A child that exits early (bad argv) closes stdin; that is reported through its exit code.
    child.stdin?.on('error', () => undefined);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    const done = new Promise<ExecResult>((resolve, reject) => {
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new ExecError(argv, `cannot run: ${e.message}`, Buffer.concat(err).toString('utf8')));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        const stderr = Buffer.concat(err).toString('utf8');
        if (timedOut) reject(new ExecError(argv, `timed out after ${timeoutMs} ms`, stderr));
        else if (code === null) reject(new ExecError(argv, `killed by ${signal ?? 'signal'}`, stderr));
        else resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr });
      });
    });
    // Rejections are delivered through end(); never leave one unhandled if end() is not reached.
    done.catch(() => undefined);
    const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    return {
      write: (data) => {
        const stdin = child.stdin;
        if (!stdin || stdin.destroyed) return Promise.resolve();
        stdin.write(data);
        // Queue a little ahead of the child instead of waiting for every pipe-full, so it keeps
        // working while the caller does its own; bounded so a stuck child cannot eat memory.
        // Resolved through the event loop, never as a bare microtask: the kernel pipe holds only
        // 64 KiB (~5 ms of `ip -batch` work), and libuv refills it from our queue only when the
        // loop polls. A caller that loops over chunks on resolved promises alone would starve the
        // child for as long as its loop runs.
        if (stdin.writableLength <= STREAM_BUFFER_LIMIT_BYTES) return new Promise((resolve) => setImmediate(resolve));
        return Promise.race([once(stdin, 'drain').then(() => undefined), closed]);
      },
      end: () => {
        child.stdin?.end();
        return done;
      },
      kill: () => {
        child.kill('SIGKILL');
      },
    };
  }
}

/** Where commands run: the current namespace, or a named one (tests, lab). */
export interface NetnsTarget {
  netns?: string;
}

/** argv prefix for `ip` in the target namespace. */
export function ipArgv(t: NetnsTarget, ...args: string[]): string[] {
  return t.netns ? ['ip', '-n', t.netns, ...args] : ['ip', ...args];
}

/** argv prefix for `bridge` in the target namespace. */
export function bridgeArgv(t: NetnsTarget, ...args: string[]): string[] {
  return t.netns ? ['bridge', '-n', t.netns, ...args] : ['bridge', ...args];
}

/** argv running an arbitrary program in the target namespace. */
export function inNetnsArgv(t: NetnsTarget, argv: readonly string[]): string[] {
  return t.netns ? ['ip', 'netns', 'exec', t.netns, ...argv] : [...argv];
}

/** Runs a command and throws ExecError unless it exits 0 (for reads, where any failure is fatal). */
export async function runChecked(runner: CommandRunner, argv: readonly string[], opts?: { input?: string; timeoutMs?: number }): Promise<string> {
  const r = await runner.run(argv, opts);
  if (r.code !== 0) throw new ExecError(argv, `exit code ${r.code}`, r.stderr);
  return r.stdout;
}
